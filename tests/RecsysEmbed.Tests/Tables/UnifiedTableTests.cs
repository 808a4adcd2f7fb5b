using System.Runtime.InteropServices;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Tests.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// A unified table: features f0 (two chunks) and f1 (one chunk) share one matrix; each feature is checked in turn.
/// Checked against the torch rebuild of <see cref="TableCases"/> with the table's own row mapping.
/// </summary>
public sealed class UnifiedTableTests
{
    // ---- the multi-feature batch path: one Forward / Backward for both features ----

    /// <summary>
    /// Table features f0 (2 chunks, sum) and f1 (1 chunk, mean) over 53 shared buckets; the batch lists its keys in
    /// another order with an extra key. Bucket SharedRow is chunk 0 of f1's id A and chunk 1 of f0's id B, and both
    /// ids occur in the batch, so that row gets gradient from both features.
    /// </summary>
    private sealed class BatchCase : IDisposable
    {
        public const long IdA = 1_234_567;
        public readonly UnifiedTable Table;
        public readonly KeyedJaggedBatch Batch;
        public readonly BagInput F0, F1;
        public readonly long SharedRow;

        public BatchCase(SparseOptimizerSettings optimizer)
        {
            Table = new UnifiedTable("ue", [new UnifiedFeature("f0", 2, PoolingMode.Sum), new UnifiedFeature("f1", 1, PoolingMode.Mean)],
                                     buckets: 53, dim: 6, optimizer);
            var rng = new Random(29);
            Table.Weights.SetWeights(TableCases.RandomArray(rng, Table.Weights.WeightCount));
            SharedRow = Table.RowOf(1, 0, IdA);
            long idB = 0;
            while (Table.RowOf(0, 1, idB) != SharedRow || Table.RowOf(0, 0, idB) == SharedRow) idB++;

            long[] pool0 = [idB, 10, 11, 12, 13, 14, 15], pool1 = [IdA, 20, 21, 22, 23, 24];
            F0 = BagInput.Random(rng, pool0, weighted: true);
            F1 = BagInput.Random(rng, pool1, weighted: true);
            F0.Ids[0] = idB;           // bag 0
            F1.Ids[F1.Offsets[2]] = IdA; // bag 2
            F1.Ids[F1.Offsets[6]] = IdA; // bag 6
            var other = BagInput.Random(rng, [1, 2, 3], weighted: true);

            // Feature-major: f1, other, f0 (not the table's order).
            BagInput[] parts = [F1, other, F0];
            var values = parts.SelectMany(p => p.Ids).ToArray();
            var weights = parts.SelectMany(p => p.Weights!).ToArray();
            var offsets = new List<int> { 0 };
            foreach (var p in parts)
            {
                int start = offsets[^1];
                for (int b = 0; b < p.BagCount; b++) offsets.Add(start + p.Offsets[b + 1]);
            }
            Batch = new KeyedJaggedBatch(["f1", "other", "f0"], F0.BagCount, values, offsets.ToArray(), weights);
        }

        public int Width => Table.OutputWidth;

        /// <summary>Gradients of W from f0's and f1's columns apart (fresh leaves each), as flat arrays.</summary>
        public (double[] G0, double[] G1) TorchGradients(float[] gradOutput)
        {
            using var scope = torch.NewDisposeScope();
            var result = new double[2][];
            for (int f = 0; f < 2; f++)
            {
                var leaf = TorchReference.Leaf(Table.Weights);
                var input = f == 0 ? F0 : F1;
                var slot = Table.Features[f];
                var pooled = TorchReference.Pool(PerId(f, input.Ids, leaf), input.Offsets, input.Weights, slot.Pooling);
                var g = TorchReference.Constant(gradOutput, input.BagCount, Width)[.., slot.Column..(slot.Column + slot.OutputDim)];
                (pooled * g).sum().backward();
                result[f] = TorchReference.GradOf(leaf);
            }
            return (result[0], result[1]);
        }

        public Tensor PerId(int f, long[] ids, Tensor leaf)
        {
            var parts = Enumerable.Range(0, Table.Chunks(f)).Select(j => TorchReference.Gather(leaf, ids.Select(id => Table.RowOf(f, j, id)))).ToList();
            return parts.Count == 1 ? parts[0] : torch.cat(parts, 1);
        }

        public void Dispose() => Table.Dispose();
    }

    [Fact]
    public void ForwardBatch_MatchesAutograd_TwoFeaturesSharingOneTable()
    {
        using var c = new BatchCase(SparseOptimizerSettings.Sgd(1f));
        var actual = new float[c.Batch.BatchSize * c.Width];
        actual.AsSpan().Fill(float.NaN);
        c.Table.Forward(c.Batch, actual);

        using var scope = torch.NewDisposeScope();
        var leaf = TorchReference.Leaf(c.Table.Weights);
        var expected = torch.cat(new List<Tensor>
        {
            TorchReference.Pool(c.PerId(0, c.F0.Ids, leaf), c.F0.Offsets, c.F0.Weights, PoolingMode.Sum),
            TorchReference.Pool(c.PerId(1, c.F1.Ids, leaf), c.F1.Offsets, c.F1.Weights, PoolingMode.Mean),
        }, 1);
        TorchReference.AssertClose(TorchReference.ToArray(expected), actual, "batch forward");
    }

    [Fact]
    public void BackwardBatch_SgdStepMatchesAutograd_RowOfBothFeaturesGetsSummedGradient()
    {
        const float lr = 1f;
        using var c = new BatchCase(SparseOptimizerSettings.Sgd(lr));
        float[] grad = TableCases.RandomArray(new Random(31), c.Batch.BatchSize * c.Width);
        var (g0, g1) = c.TorchGradients(grad);
        int dim = c.Table.Dim, o = (int)(c.SharedRow * dim);
        Assert.True(g0.AsSpan(o, dim).ContainsAnyExcept(0.0) && g1.AsSpan(o, dim).ContainsAnyExcept(0.0), "the shared row must get gradient from both features");

        float[] before = c.Table.Weights.CopyWeights();
        c.Table.Backward(c.Batch, grad);
        float[] after = c.Table.Weights.CopyWeights();
        int untouched = 0;
        for (int r = 0; r < c.Table.Buckets; r++)
        {
            var expected = new double[dim];
            var delta = new double[dim];
            for (int d = 0; d < dim; d++)
            {
                expected[d] = g0[r * dim + d] + g1[r * dim + d];
                delta[d] = ((double)before[r * dim + d] - after[r * dim + d]) / lr;
            }
            if (expected.AsSpan().ContainsAnyExcept(0.0))
            {
                TorchReference.AssertClose(expected, delta, $"batch backward, row {r}");
            }
            else
            {
                untouched++;
                Assert.True(MemoryMarshal.Cast<float, int>(before.AsSpan(r * dim, dim)).SequenceEqual(MemoryMarshal.Cast<float, int>(after.AsSpan(r * dim, dim))),
                            $"row {r} has no gradient but changed");
            }
        }
        Assert.True(untouched > 0);
    }

    [Fact]
    public void BackwardBatch_RowWiseAdagradUpdatesRowOfBothFeaturesOnce()
    {
        var settings = SparseOptimizerSettings.RowWiseAdagrad(0.1f) with { InitialAccumulator = 0.05f };
        using var c = new BatchCase(settings);
        float[] grad = TableCases.RandomArray(new Random(37), c.Batch.BatchSize * c.Width);
        var (g0, g1) = c.TorchGradients(grad);
        int dim = c.Table.Dim;
        var summed = new double[g0.Length];
        for (int i = 0; i < summed.Length; i++) summed[i] = g0[i] + g1[i];

        var reference = new ReferenceOptimizer(settings, c.Table.Weights);
        var wrong = new ReferenceOptimizer(settings, c.Table.Weights); // one update per feature
        reference.Step(AutogradChecks.RowsWithGradient(summed, dim));
        wrong.Step(AutogradChecks.RowsWithGradient(g0, dim));
        wrong.Step(AutogradChecks.RowsWithGradient(g1, dim));

        c.Table.Backward(c.Batch, grad);
        reference.AssertMatches(c.Table.Weights, "batch backward with row-wise Adagrad");

        long shared = c.SharedRow;
        Assert.True(Math.Abs(wrong.State[shared] - reference.State[shared]) > 1e-3 * reference.State[shared],
                    "the two-update alternative must be distinguishable from one update");
        Assert.Equal(reference.State[shared], c.Table.Weights.StateRow(shared)[0], 1e-4 * reference.State[shared]);
    }
}
