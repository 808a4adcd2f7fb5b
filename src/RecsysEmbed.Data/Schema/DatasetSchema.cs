namespace RecsysEmbed.Data.Schema;

/// <summary>
/// What a reader produces per sample: one label, D dense features and F sparse features.
/// <code>
///   Label          "label"                      float 0/1
///   DenseFeatures  [ "I1" "I2" ... "I13" ]      D floats per sample, after the reader's dense transform
///   SparseFeatures [ "C1" "C2" ... "C26" ]      one bag of ids per feature per sample (empty when missing)
///   WeightedSparse false                        true when ids carry weights (libFM idx:val)
/// </code>
/// Immutable; readers build it once (some from a file header) and hand it to <see cref="Batching.CtrBatchBuilder"/>.
/// </summary>
public sealed class DatasetSchema
{
    public DatasetSchema(string label, IReadOnlyList<string> denseFeatures, IReadOnlyList<string> sparseFeatures, bool weightedSparse = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(label);
        ArgumentNullException.ThrowIfNull(denseFeatures);
        ArgumentNullException.ThrowIfNull(sparseFeatures);
        Label = label;
        DenseFeatures = denseFeatures.ToArray();
        SparseFeatures = sparseFeatures.ToArray();
        WeightedSparse = weightedSparse;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in DenseFeatures.Concat(SparseFeatures))
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("feature names must be non-empty.", nameof(denseFeatures));
            if (!seen.Add(name)) throw new ArgumentException($"feature '{name}' appears twice in the schema.", nameof(sparseFeatures));
        }
    }

    /// <summary>Name of the label (for messages and metadata).</summary>
    public string Label { get; }
    public IReadOnlyList<string> DenseFeatures { get; }
    public IReadOnlyList<string> SparseFeatures { get; }
    public bool WeightedSparse { get; }

    public int DenseCount => DenseFeatures.Count;
    public int SparseCount => SparseFeatures.Count;

    /// <summary>Whether two schemas describe the same sample layout (names, order, weighting).</summary>
    public bool SameLayout(DatasetSchema other) =>
        ReferenceEquals(this, other) ||
        (other.Label == Label && other.WeightedSparse == WeightedSparse &&
         other.DenseFeatures.SequenceEqual(DenseFeatures, StringComparer.Ordinal) &&
         other.SparseFeatures.SequenceEqual(SparseFeatures, StringComparer.Ordinal));

    public override string ToString() =>
        $"label: {Label}; dense: [{string.Join(", ", DenseFeatures)}]; sparse: [{string.Join(", ", SparseFeatures)}]{(WeightedSparse ? " (weighted)" : "")}";

    /// <summary>Criteo display-advertising layout: label, I1..I13, C1..C26.</summary>
    public static DatasetSchema Criteo { get; } = new(
        "label",
        Enumerable.Range(1, 13).Select(i => $"I{i}").ToArray(),
        Enumerable.Range(1, 26).Select(i => $"C{i}").ToArray());
}
