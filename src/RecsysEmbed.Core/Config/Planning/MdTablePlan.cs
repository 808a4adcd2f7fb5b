using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config.Planning;

/// <summary>
/// A <see cref="MixedDimensionTable"/> of one feature: block k is Rows_k x Dim_k, projected by a Dim_k x OutputDim
/// matrix when Dim_k is narrower than the output (matrices listed in the table's order: b0, proj0, b1, proj1).
/// </summary>
public sealed class MdTablePlan(MdTableConfig config, PoolingMode pooling, long cardinality, IReadOnlyList<MixedDimensionBlock> blocks,
                                SparseOptimizerSettings optimizer, ulong seed)
    : TablePlan(config, [(config.Features[0], pooling, config.Dim)], MatricesOf(config, blocks), optimizer, seed)
{
    public new MdTableConfig Config { get; } = config;
    public long Cardinality { get; } = cardinality;
    public IReadOnlyList<MixedDimensionBlock> Blocks { get; } = blocks;

    private static MatrixPlan[] MatricesOf(MdTableConfig config, IReadOnlyList<MixedDimensionBlock> blocks)
    {
        var matrices = new List<MatrixPlan>();
        for (int k = 0; k < blocks.Count; k++)
        {
            matrices.Add(new MatrixPlan($"{config.Name}.b{k}", blocks[k].Rows, blocks[k].Dim));
            if (blocks[k].Dim != config.Dim) matrices.Add(new MatrixPlan($"{config.Name}.proj{k}", blocks[k].Dim, config.Dim));
        }
        return matrices.ToArray();
    }

    public override IEmbeddingTable Build() =>
        new MixedDimensionTable(Name, TableFeatures[0], Cardinality, Blocks, Config.Dim, Optimizer, Seed, Init);
}
