using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Core.Tables.Addressing;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Checkpoints;

namespace RecsysEmbed.Serving.Model;

/// <summary>
/// How a served feature is resolved, exactly as training resolves it:
/// <code>
///   raw value ──IdHasher(name, DefaultSeed)──> id ──vocabulary (full/qr/md)──> index ──addressing──> physical rows
/// </code>
/// </summary>
public sealed class FeatureBinding
{
    internal FeatureBinding(int index, string name, int table, int localFeature, IRowAddressing addressing, int[] globalMatrices, IdVocabulary? vocabulary, int column)
    {
        Index = index;
        Name = name;
        Table = table;
        LocalFeature = localFeature;
        Addressing = addressing;
        GlobalMatrices = globalMatrices;
        Vocabulary = vocabulary;
        Hasher = new IdHasher(name, IdHasher.DefaultSeed);
        Slot = addressing.Features[localFeature];
        Column = column;
    }

    /// <summary>Position in <see cref="ServingModel.Features"/>.</summary>
    public int Index { get; }
    public string Name { get; }
    public int Table { get; }
    public int LocalFeature { get; }
    public IRowAddressing Addressing { get; }
    /// <summary>Store matrix id of each of the table's matrices (by local index).</summary>
    public int[] GlobalMatrices { get; }
    public IdVocabulary? Vocabulary { get; }
    public IdHasher Hasher { get; }
    public FeatureSlot Slot { get; }
    public int OutputDim => Slot.OutputDim;
    public PoolingMode Pooling => Slot.Pooling;
    /// <summary>Column of this feature in the dense model's embedding input (EmbeddingCollection order).</summary>
    public int Column { get; }

    /// <summary>The id the tables index with for a raw value (hash, then the vocabulary's index when the family needs one).</summary>
    public long IdOf(ReadOnlySpan<char> raw)
    {
        long id = Hasher.HashString(raw);
        return Vocabulary is null ? id : Vocabulary.Find(id);
    }

    /// <summary>The same id as <see cref="IdOf"/> for the raw value's UTF-8 bytes (what a compact request carries).</summary>
    public long IdOfUtf8(ReadOnlySpan<byte> raw)
    {
        long id = Hasher.HashUtf8(raw);
        return Vocabulary is null ? id : Vocabulary.Find(id);
    }

    public long IdOfHashed(long hashed) => Vocabulary is null ? hashed : Vocabulary.Find(hashed);
}

/// <summary>
/// A trained model as the lookup service sees it: the config's plan, each table's addressing, each feature's
/// binding (with the vocabularies restored from the training checkpoint), and the model's dense width.
/// No table memory is allocated; rows live in the store.
/// </summary>
public sealed class ServingModel
{
    private readonly Dictionary<string, FeatureBinding> _features;

    private ServingModel(ModelConfig config, EmbeddingPlan plan, IReadOnlyList<IRowAddressing> tables, IReadOnlyList<FeatureBinding> features)
    {
        Config = config;
        Plan = plan;
        Tables = tables;
        Features = features;
        _features = features.ToDictionary(f => f.Name, StringComparer.Ordinal);
        EmbeddingWidth = tables.Sum(t => t.Features.Sum(s => s.OutputDim));
    }

    public ModelConfig Config { get; }
    public EmbeddingPlan Plan { get; }
    public IReadOnlyList<IRowAddressing> Tables { get; }
    /// <summary>Features in EmbeddingCollection output order.</summary>
    public IReadOnlyList<FeatureBinding> Features { get; }
    public int EmbeddingWidth { get; }
    public int DenseCount => Config.DenseFeatures.Count;

    public FeatureBinding? Feature(string name) => _features.TryGetValue(name, out var f) ? f : null;

    /// <summary>
    /// Builds the serving view of a config; with a checkpoint, the id vocabularies of full/qr/md features are
    /// restored from it (entries "vocab/&lt;feature&gt;", as <see cref="TrainingCheckpoint"/> writes them).
    /// </summary>
    public static ServingModel Create(ModelConfig config, CheckpointReader? checkpoint)
    {
        var plan = EmbeddingPlan.Create(config);
        var tables = RowAddressing.For(plan);
        var vocabularies = FeatureVocabularies.For(plan).All.ToDictionary(v => v.FeatureName, StringComparer.Ordinal);
        if (checkpoint is not null)
        {
            foreach (var (name, v) in vocabularies) RestoreVocabulary(checkpoint, name, v);
        }
        var bindings = new List<FeatureBinding>();
        int matrixBase = 0, column = 0;
        for (int t = 0; t < tables.Count; t++)
        {
            var table = tables[t];
            int[] global = Enumerable.Range(matrixBase, table.Matrices.Count).ToArray();
            for (int f = 0; f < table.Features.Count; f++)
            {
                string name = table.Features[f].Name;
                bindings.Add(new FeatureBinding(bindings.Count, name, t, f, table, global, vocabularies.GetValueOrDefault(name), column + table.Features[f].Column));
            }
            column += table.Features.Sum(s => s.OutputDim);
            matrixBase += table.Matrices.Count;
        }
        return new ServingModel(config, plan, tables, bindings);
    }

    private static void RestoreVocabulary(CheckpointReader checkpoint, string feature, IdVocabulary vocabulary)
    {
        string entry = "vocab/" + feature;
        if (!checkpoint.Contains(entry)) throw new InvalidDataException($"{checkpoint.Path}: no entry '{entry}' for the vocabulary of feature '{feature}'.");
        using var stream = checkpoint.OpenRead(entry);
        using var r = new BinaryReader(stream);
        long count = r.ReadInt64();
        long overflowed = r.ReadInt64();
        var entries = new (long, int)[count];
        for (long i = 0; i < count; i++) entries[i] = (r.ReadInt64(), r.ReadInt32());
        vocabulary.Restore(entries, overflowed);
    }
}
