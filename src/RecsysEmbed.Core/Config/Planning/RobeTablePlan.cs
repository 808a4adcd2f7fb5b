using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config.Planning;

/// <summary>A <see cref="RobeTable"/>: one shared array of Size weights (a Size x 1 matrix); every feature's output is Dim wide.</summary>
public sealed class RobeTablePlan(RobeTableConfig config, IReadOnlyList<PoolingMode> pooling, long size, long? budgetBytes,
                                  SparseOptimizerSettings optimizer, ulong seed)
    : TablePlan(config, config.Features.Select((f, i) => (f, pooling[i], config.Dim)).ToArray(), [new MatrixPlan(config.Name, size, 1)], optimizer, seed)
{
    public new RobeTableConfig Config { get; } = config;
    public long Size { get; } = size;
    /// <summary>Weight bytes the size was derived from (table budget or model budget share); null when size was given.</summary>
    public long? BudgetBytes { get; } = budgetBytes;

    public override IEmbeddingTable Build() => new RobeTable(Name, TableFeatures, Size, Config.Dim, Config.BlockSize, Optimizer, Seed, Init);
}
