using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config.Planning;

/// <summary>A <see cref="QuotientRemainderTable"/>: one Radices[j] x Dim matrix per partition.</summary>
public sealed class QrTablePlan(QrTableConfig config, IReadOnlyList<PoolingMode> pooling, long cardinality, IReadOnlyList<long> radices,
                                SparseOptimizerSettings optimizer, ulong seed)
    : TablePlan(config,
                config.Features.Select((f, i) => (f, pooling[i], config.Combine == QrCombine.Concat ? radices.Count * config.Dim : config.Dim)).ToArray(),
                radices.Select((r, j) => new MatrixPlan($"{config.Name}.p{j}", r, config.Dim)).ToArray(), optimizer, seed)
{
    public new QrTableConfig Config { get; } = config;
    public long Cardinality { get; } = cardinality;
    public IReadOnlyList<long> Radices { get; } = radices;

    public override IEmbeddingTable Build() =>
        new QuotientRemainderTable(Name, TableFeatures, Cardinality, Config.Dim, Radices, Config.Combine, Optimizer, Seed, Init);
}
