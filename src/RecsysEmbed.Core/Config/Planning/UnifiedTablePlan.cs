using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config.Planning;

/// <summary>A <see cref="UnifiedTable"/>: one shared Buckets x Dim matrix; feature i's output is Chunks[i] * Dim wide.</summary>
public sealed class UnifiedTablePlan(UnifiedTableConfig config, IReadOnlyList<PoolingMode> pooling, long buckets, long? budgetBytes,
                                     SparseOptimizerSettings optimizer, ulong seed)
    : TablePlan(config, config.Features.Select((f, i) => (f, pooling[i], config.Chunks[i] * config.Dim)).ToArray(),
                [new MatrixPlan(config.Name, buckets, config.Dim)], optimizer, seed)
{
    public new UnifiedTableConfig Config { get; } = config;
    public long Buckets { get; } = buckets;
    /// <summary>Weight bytes the buckets were derived from (table budget or model budget share); null when buckets were given.</summary>
    public long? BudgetBytes { get; } = budgetBytes;

    public override IEmbeddingTable Build() =>
        new UnifiedTable(Name, Features.Select((f, i) => new UnifiedFeature(f.Name, Config.Chunks[i], f.Pooling)).ToArray(),
                         Buckets, Config.Dim, Optimizer, Seed, Init);
}
