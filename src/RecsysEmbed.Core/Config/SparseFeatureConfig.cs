using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config;

/// <summary>
/// A categorical input: its name (the batch key), id count, how its bags are pooled, and whether each id comes
/// with a weight. <see cref="CardinalityEstimate"/> sizes the full-table baseline of a dynamic feature only.
/// </summary>
public sealed record SparseFeatureConfig(
    string Name,
    Cardinality Cardinality,
    PoolingMode Pooling = PoolingMode.Sum,
    bool Weighted = false,
    long? CardinalityEstimate = null)
{
    /// <summary>Rows a full table of this feature would have: the cardinality, else the estimate, else null.</summary>
    public long? BaselineRows => Cardinality.Rows ?? CardinalityEstimate;
}
