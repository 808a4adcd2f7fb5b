using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Core.Hashing;

namespace RecsysEmbed.Training;

/// <summary>
/// The id vocabularies of the features whose tables index rows by id (full, qr, md, lp, tt): readers produce 63-bit hashed
/// ids, and these families need ids below the cardinality, so each such feature's ids are rewritten to dense
/// first-appearance indices before the lookup. Hash and unified tables take hashed ids as they are.
/// </summary>
public sealed class FeatureVocabularies
{
    private readonly IdVocabulary[] _vocabularies;
    private IReadOnlyList<string>? _lastKeys;
    private int[] _featureIndex = [];

    public FeatureVocabularies(IEnumerable<IdVocabulary> vocabularies) => _vocabularies = vocabularies.ToArray();

    public static FeatureVocabularies For(EmbeddingPlan plan)
    {
        var vocabularies = new List<IdVocabulary>();
        foreach (var table in plan.Tables)
        {
            if (!table.Config.NeedsFixedCardinality) continue;
            foreach (var slot in table.Features)
            {
                long rows = plan.Config.Feature(slot.Name).Cardinality.Rows
                    ?? throw new InvalidOperationException($"feature '{slot.Name}' of {table.Family} table '{table.Name}' has no fixed cardinality.");
                vocabularies.Add(new IdVocabulary(slot.Name, rows, plan.Config.HashSeed));
            }
        }
        return new FeatureVocabularies(vocabularies);
    }

    public IReadOnlyList<IdVocabulary> All => _vocabularies;

    /// <summary>Rewrites the ids of every vocabulary feature in the batch, in place.</summary>
    public void Apply(KeyedJaggedBatch batch)
    {
        if (!ReferenceEquals(batch.Keys, _lastKeys))
        {
            _featureIndex = _vocabularies.Select(v =>
            {
                int f = batch.IndexOf(v.FeatureName);
                return f >= 0 ? f : throw new ArgumentException($"the batch lacks feature '{v.FeatureName}' (keys: {string.Join(", ", batch.Keys)}).", nameof(batch));
            }).ToArray();
            _lastKeys = batch.Keys;
        }
        for (int v = 0; v < _vocabularies.Length; v++) _vocabularies[v].Remap(batch, _featureIndex[v]);
    }
}
