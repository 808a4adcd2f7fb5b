using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config.Planning;

/// <summary>A <see cref="HashedTable"/>: Buckets x Dim, k hashes; the output is Dim wide (sum) or k * Dim (concat).</summary>
public sealed class HashTablePlan(HashTableConfig config, IReadOnlyList<PoolingMode> pooling, long buckets, long? budgetBytes,
                                  SparseOptimizerSettings optimizer, ulong seed)
    : TablePlan(config,
                config.Features.Select((f, i) => (f, pooling[i], config.Combine == HashCombine.Concat ? config.HashCount * config.Dim : config.Dim)).ToArray(),
                [new MatrixPlan(config.Name, buckets, config.Dim)], optimizer, seed)
{
    public new HashTableConfig Config { get; } = config;
    public long Buckets { get; } = buckets;
    /// <summary>Weight bytes the buckets were derived from (table budget or model budget share); null when buckets were given.</summary>
    public long? BudgetBytes { get; } = budgetBytes;

    public override IEmbeddingTable Build() =>
        new HashedTable(Name, TableFeatures, Buckets, Config.Dim, Config.HashCount, Config.Combine, Optimizer, Seed, Init);
}
