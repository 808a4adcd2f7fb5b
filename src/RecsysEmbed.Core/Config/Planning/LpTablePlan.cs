using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config.Planning;

/// <summary>
/// A <see cref="LowPrecisionTable"/>: Rows x Dim stored as fp16 (2 bytes a weight) or int8 (1 byte a weight + a
/// 4-byte scale a row); optimizer state in fp32. Rows = the largest cardinality, or the configured hashed buckets.
/// </summary>
public sealed class LpTablePlan(LpTableConfig config, IReadOnlyList<PoolingMode> pooling, long rows, SparseOptimizerSettings optimizer, ulong seed)
    : TablePlan(config, config.Features.Select((f, i) => (f, pooling[i], config.Dim)).ToArray(), [], // no fp32 matrices, as the table
                optimizer, seed, MemoryOf(rows, config, optimizer))
{
    public new LpTableConfig Config { get; } = config;
    public long Rows { get; } = rows;

    private static TableMemory MemoryOf(long rows, LpTableConfig config, SparseOptimizerSettings optimizer)
    {
        long state = rows * optimizer.StateWidth(config.Dim);
        return new TableMemory(rows * config.Dim, LowPrecisionTable.WeightBytesOf(rows, config.Dim, config.Precision), state, state * sizeof(float));
    }

    public override IEmbeddingTable Build() =>
        new LowPrecisionTable(Name, TableFeatures, Rows, Config.Dim, Config.Precision, Optimizer, hashed: Config.Buckets is not null, Seed, Init);
}
