using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config.Planning;

/// <summary>A <see cref="FullTable"/>: Rows (the largest cardinality of its features) x Dim.</summary>
public sealed class FullTablePlan(FullTableConfig config, IReadOnlyList<PoolingMode> pooling, long rows, SparseOptimizerSettings optimizer, ulong seed)
    : TablePlan(config, config.Features.Select((f, i) => (f, pooling[i], config.Dim)).ToArray(), [new MatrixPlan(config.Name, rows, config.Dim)], optimizer, seed)
{
    public long Rows { get; } = rows;

    public override IEmbeddingTable Build() => new FullTable(Name, TableFeatures, Rows, Config.Dim, Optimizer, Init);
}
