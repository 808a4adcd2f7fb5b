using System.Runtime.InteropServices;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Tests.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// The checks every family runs against its torch rebuild (<see cref="TableCases"/>): pooled forward, unpooled
/// lookup, and the gradient seen through one fused optimizer step. With SGD, (before - after) / lr of every row
/// must equal torch's gradient of sum(output * gradOutput); rows without gradient must keep their exact bits.
/// </summary>
internal static class AutogradChecks
{
    private const float SgdLearningRate = 1f;

    public static TheoryData<string, PoolingMode, bool> PoolingMatrix(params string[] variants)
    {
        var data = new TheoryData<string, PoolingMode, bool>();
        foreach (string v in variants)
        {
            foreach (var pooling in new[] { PoolingMode.Sum, PoolingMode.Mean })
            {
                data.Add(v, pooling, false);
                data.Add(v, pooling, true);
            }
        }
        return data;
    }

    public static void Forward(string variant, PoolingMode pooling, bool weighted)
    {
        using var c = TableCases.Create(variant, pooling, SparseOptimizerSettings.Sgd(SgdLearningRate));
        var rng = new Random(11);
        for (int f = 0; f < c.Table.Features.Count; f++)
        {
            using var scope = torch.NewDisposeScope();
            var input = BagInput.Random(rng, c.IdPool, weighted, baseOffset: 3);
            int dim = c.Table.Features[f].OutputDim;
            var actual = new float[input.BagCount * dim];
            actual.AsSpan().Fill(float.NaN); // forward overwrites
            c.Table.Forward(f, input.View(), actual);

            var leaves = TorchReference.Leaves(c.Table);
            var expected = TorchReference.Pool(c.PerId(f, input.Ids, leaves), input.Offsets, input.Weights, pooling);
            TorchReference.AssertClose(TorchReference.ToArray(expected), actual, $"{variant} feature {f} pooled output");
            Assert.All(actual.AsSpan(dim, dim).ToArray(), x => Assert.Equal(0f, x)); // bag 1 is empty
        }
    }

    public static void Lookup(string variant)
    {
        using var c = TableCases.Create(variant, PoolingMode.Mean, SparseOptimizerSettings.Sgd(SgdLearningRate));
        var rng = new Random(13);
        for (int f = 0; f < c.Table.Features.Count; f++)
        {
            using var scope = torch.NewDisposeScope();
            var ids = Enumerable.Range(0, 15).Select(_ => c.IdPool[rng.Next(c.IdPool.Length)]).ToArray();
            ids[4] = ids[0];
            ids[11] = ids[0];
            int dim = c.Table.Features[f].OutputDim;
            var actual = new float[ids.Length * dim];
            actual.AsSpan().Fill(float.NaN);
            c.Table.Lookup(f, ids, actual);

            var leaves = TorchReference.Leaves(c.Table);
            var perId = c.PerId(f, ids, leaves);
            TorchReference.AssertClose(TorchReference.ToArray(perId), actual, $"{variant} feature {f} lookup");

            float[] grad = TableCases.RandomArray(rng, ids.Length * dim);
            TorchReference.BackwardOfDot(perId, grad);
            var before = Snapshot(c.Table);
            c.Table.BackwardLookup(f, ids, grad);
            AssertSgdStep(c.Table, before, leaves, SgdLearningRate, $"{variant} feature {f} lookup backward");
        }
    }

    public static void BackwardSgd(string variant, PoolingMode pooling, bool weighted)
    {
        using var c = TableCases.Create(variant, pooling, SparseOptimizerSettings.Sgd(SgdLearningRate));
        var rng = new Random(17);
        int untouched = 0;
        for (int f = 0; f < c.Table.Features.Count; f++)
        {
            using var scope = torch.NewDisposeScope();
            var input = BagInput.Random(rng, c.IdPool, weighted, baseOffset: 3);
            float[] grad = TableCases.RandomArray(rng, input.BagCount * c.Table.Features[f].OutputDim);
            var leaves = TorchReference.Leaves(c.Table);
            TorchReference.BackwardOfDot(TorchReference.Pool(c.PerId(f, input.Ids, leaves), input.Offsets, input.Weights, pooling), grad);

            var before = Snapshot(c.Table);
            c.Table.Backward(f, input.View(), grad);
            untouched += AssertSgdStep(c.Table, before, leaves, SgdLearningRate, $"{variant} feature {f} backward");
        }
        Assert.True(untouched > 0, "every row got a gradient, so the untouched-rows check checked nothing");
    }

    /// <summary>
    /// Row-wise Adagrad is not linear in the gradient, so a row updated once per occurrence of a repeated id ends up
    /// elsewhere than a row updated once with the summed gradient: this checks the dedup, which SGD cannot.
    /// </summary>
    public static void BackwardRowWiseAdagrad(string variant, PoolingMode pooling, bool weighted)
    {
        var settings = SparseOptimizerSettings.RowWiseAdagrad(0.1f) with { InitialAccumulator = 0.05f };
        using var c = TableCases.Create(variant, pooling, settings);
        var rng = new Random(19);
        for (int f = 0; f < c.Table.Features.Count; f++)
        {
            using var scope = torch.NewDisposeScope();
            var input = BagInput.Random(rng, c.IdPool, weighted, baseOffset: 3);
            float[] grad = TableCases.RandomArray(rng, input.BagCount * c.Table.Features[f].OutputDim);
            var leaves = TorchReference.Leaves(c.Table);
            TorchReference.BackwardOfDot(TorchReference.Pool(c.PerId(f, input.Ids, leaves), input.Offsets, input.Weights, pooling), grad);

            var references = c.Table.Matrices.Select(m => new ReferenceOptimizer(settings, m)).ToArray();
            c.Table.Backward(f, input.View(), grad);
            for (int i = 0; i < references.Length; i++)
            {
                var m = c.Table.Matrices[i];
                references[i].Step(RowsWithGradient(TorchReference.GradOf(leaves[m]), m.Dim));
                references[i].AssertMatches(m, $"{variant} feature {f} {m.Name}", checkStepCount: false);
            }
        }
    }

    /// <summary>
    /// Central differences of the scalar loss sum(output * gradOutput), accumulated in double, against the gradient
    /// the table applies. The output is linear in any single weight (every family multiplies a weight by other
    /// weights, never by itself), so a large step loses nothing to curvature; the true float perturbation
    /// (float)(w ± h) - w is used as the denominator.
    /// </summary>
    public static void FiniteDifference(string variant)
    {
        const double h = 0.25;
        using var c = TableCases.Create(variant, PoolingMode.Mean, SparseOptimizerSettings.Sgd(SgdLearningRate));
        var rng = new Random(23);
        var input = BagInput.Random(rng, c.IdPool, weighted: true);
        int dim = c.Table.Features[0].OutputDim;
        float[] grad = TableCases.RandomArray(rng, input.BagCount * dim);
        var output = new float[input.BagCount * dim];

        double Loss()
        {
            c.Table.Forward(0, input.View(), output);
            double s = 0;
            for (int i = 0; i < output.Length; i++) s += (double)output[i] * grad[i];
            return s;
        }

        var numeric = new double[c.Table.Matrices.Count][];
        for (int i = 0; i < numeric.Length; i++)
        {
            var m = c.Table.Matrices[i];
            numeric[i] = new double[m.WeightCount];
            for (long r = 0; r < m.Rows; r++)
            {
                for (int d = 0; d < m.Dim; d++)
                {
                    var row = m.Row(r);
                    float w = row[d];
                    row[d] = (float)(w + h);
                    double up = row[d] - (double)w, lossUp = Loss();
                    row[d] = (float)(w - h);
                    double down = row[d] - (double)w, lossDown = Loss();
                    row[d] = w;
                    numeric[i][r * m.Dim + d] = (lossUp - lossDown) / (up - down);
                }
            }
        }

        var before = Snapshot(c.Table);
        c.Table.Backward(0, input.View(), grad);
        for (int i = 0; i < numeric.Length; i++)
        {
            float[] after = c.Table.Matrices[i].CopyWeights();
            var analytic = new double[after.Length];
            for (int k = 0; k < after.Length; k++) analytic[k] = ((double)before[i][k] - after[k]) / SgdLearningRate;
            TorchReference.AssertClose(numeric[i], analytic, $"{variant} {c.Table.Matrices[i].Name} finite differences", relTol: 1e-4, absTol: 1e-5);
        }
    }

    public static float[][] Snapshot(IEmbeddingTable table) => table.Matrices.Select(m => m.CopyWeights()).ToArray();

    /// <summary>Rows whose gradient is not all zero, with that gradient.</summary>
    public static Dictionary<long, double[]> RowsWithGradient(double[] grad, int dim)
    {
        var rows = new Dictionary<long, double[]>();
        for (int r = 0; r * dim < grad.Length; r++)
        {
            var g = grad.AsSpan(r * dim, dim);
            if (g.ContainsAnyExcept(0.0)) rows.Add(r, g.ToArray());
        }
        return rows;
    }

    /// <summary>
    /// Checks one SGD step of every matrix: rows with a torch gradient moved by lr * gradient, all other rows kept
    /// their exact bits. Returns how many rows kept them.
    /// </summary>
    public static int AssertSgdStep(IEmbeddingTable table, float[][] before, IReadOnlyDictionary<EmbeddingMatrix, Tensor> leaves, float lr, string what)
    {
        int untouched = 0;
        for (int i = 0; i < table.Matrices.Count; i++)
        {
            var m = table.Matrices[i];
            double[] g = TorchReference.GradOf(leaves[m]);
            float[] after = m.CopyWeights();
            var delta = new double[m.Dim];
            for (int r = 0; r < m.Rows; r++)
            {
                int o = r * m.Dim;
                if (g.AsSpan(o, m.Dim).ContainsAnyExcept(0.0))
                {
                    for (int d = 0; d < m.Dim; d++) delta[d] = ((double)before[i][o + d] - after[o + d]) / lr;
                    TorchReference.AssertClose(g.AsSpan(o, m.Dim), delta, $"{what}: gradient of {m.Name} row {r}");
                }
                else
                {
                    untouched++;
                    var b = MemoryMarshal.Cast<float, int>(before[i].AsSpan(o, m.Dim));
                    var a = MemoryMarshal.Cast<float, int>(after.AsSpan(o, m.Dim));
                    Assert.True(b.SequenceEqual(a), $"{what}: row {r} of {m.Name} has no gradient but changed.");
                }
            }
        }
        return untouched;
    }
}
