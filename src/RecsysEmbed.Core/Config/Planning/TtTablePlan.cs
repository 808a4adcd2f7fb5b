using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config.Planning;

/// <summary>
/// A <see cref="TensorTrainTable"/>: three cores over n1 x n2 x n3 &gt;= the cardinality rows and d = d1 d2 d3, of
/// n1 x (d1 r), n2 x (r d2 r) and n3 x (r d3) floats.
/// </summary>
public sealed class TtTablePlan(TtTableConfig config, IReadOnlyList<PoolingMode> pooling, long cardinality, SparseOptimizerSettings optimizer, ulong seed)
    : TablePlan(config, config.Features.Select((f, i) => (f, pooling[i], config.Dim)).ToArray(), CoresOf(config, cardinality), optimizer, seed)
{
    public new TtTableConfig Config { get; } = config;
    public long Cardinality { get; } = cardinality;

    private static MatrixPlan[] CoresOf(TtTableConfig config, long cardinality)
    {
        var n = QuotientRemainderTable.BalancedRadices(Math.Max(cardinality, 8), 3);
        var (d1, d2, d3) = TensorTrainTable.DimFactors(config.Dim);
        int r = config.Rank;
        return [new($"{config.Name}.g0", n[0], d1 * r), new($"{config.Name}.g1", n[1], r * d2 * r), new($"{config.Name}.g2", n[2], r * d3)];
    }

    public override IEmbeddingTable Build() =>
        new TensorTrainTable(Name, TableFeatures, Cardinality, Config.Dim, Config.Rank, Optimizer, Seed, Init);
}
