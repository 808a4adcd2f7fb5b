using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using TorchSharp;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// A full table: id i is row i.
/// Checked against the torch rebuild of <see cref="TableCases"/> with the table's own row mapping.
/// </summary>
public sealed class FullTableTests
{
    /// <summary>
    /// 6000 ids over 3000 rows: the gradient accumulator grows and rehashes several times, and the update splits
    /// its ~2600 rows across two threads. The SGD step must still match torch's gradient row by row.
    /// </summary>
    [Fact]
    public void Backward_ManyUniqueRows_SgdStepMatchesAutogradGradient()
    {
        const int rows = 3000, dim = 3, bags = 300, ids = 6000;
        var rng = new Random(59);
        using var table = new FullTable("full", [new TableFeature("f0", PoolingMode.Mean)], rows, dim, SparseOptimizerSettings.Sgd(1f)) { Threads = 2 };
        table.Weights.SetWeights(TableCases.RandomArray(rng, rows * dim));
        var values = Enumerable.Range(0, ids).Select(_ => rng.NextInt64(rows)).ToArray();
        var weights = TableCases.RandomArray(rng, ids);
        var offsets = Enumerable.Range(0, bags - 1).Select(_ => rng.Next(ids + 1)).Append(0).Append(ids).Order().ToArray();
        float[] grad = TableCases.RandomArray(rng, bags * dim);

        using var scope = torch.NewDisposeScope();
        var leaves = TorchReference.Leaves(table);
        var pooled = TorchReference.Pool(TorchReference.Gather(leaves[table.Weights], values), offsets, weights, PoolingMode.Mean);
        TorchReference.BackwardOfDot(pooled, grad);
        var before = AutogradChecks.Snapshot(table);
        table.Backward(0, new JaggedFeature(values, offsets, weights), grad);
        int untouched = AutogradChecks.AssertSgdStep(table, before, leaves, 1f, "many unique rows");
        Assert.Equal(rows - values.Distinct().Count(), untouched);
    }
}
