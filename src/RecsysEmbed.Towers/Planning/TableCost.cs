using RecsysEmbed.Core.Config.Planning;

namespace RecsysEmbed.Towers.Planning;

/// <summary>
/// What one embedding table costs per training sample and in memory; the unit every sharding plan and the tower
/// partitioner place. A table serving several features (unified embedding) is placed whole, so it is one unit.
/// <code>
///   IdsPerSample        sum_f pooling_f                    ids looked up per sample
///   LookupPerSample     sum_f pooling_f x dim_f            floats gathered per sample ("batch x pooling x dim" / batch)
///   IdBytesPerSample    8 x IdsPerSample + 4 x features     ids (int64) and bag lengths (int32) sent to the table's owner
///   OutputFloats        sum_f dim_f                         pooled floats per sample back to the sample's owner
/// </code>
/// </summary>
public sealed record TableCost(string Table, IReadOnlyList<string> Features, double IdsPerSample, double LookupPerSample, int OutputFloats,
                               long WeightBytes, long OptimizerBytes)
{
    public double IdBytesPerSample => 8 * IdsPerSample + 4 * Features.Count;
    public long MemoryBytes => WeightBytes + OptimizerBytes;
    /// <summary>Stored floats per row summed over the table's matrices' widths (used to split a table by columns).</summary>
    public int Dim { get; init; }
}
