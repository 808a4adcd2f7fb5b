using System.Runtime.InteropServices;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Tests.Tables;

namespace RecsysEmbed.Tests.Optimizers;

/// <summary>
/// The fused sparse optimizers, driven through a full table's BackwardLookup (which sums the gradients of repeated
/// ids before the update), against <see cref="ReferenceOptimizer"/>. Dim 19 covers the 8-wide vector loops and
/// their scalar tail.
/// </summary>
public sealed class SparseOptimizerTests
{
    private const int Rows = 40;
    private const int Dim = 19;
    private const int HotRows = 24; // rows >= HotRows are never touched

    public static TheoryData<SparseOptimizerKind, float> Settings => new()
    {
        { SparseOptimizerKind.Sgd, 0f },
        { SparseOptimizerKind.Adagrad, 0f },
        { SparseOptimizerKind.Adagrad, 0.1f },
        { SparseOptimizerKind.RowWiseAdagrad, 0f },
        { SparseOptimizerKind.RowWiseAdagrad, 0.1f },
        { SparseOptimizerKind.Adam, 0f },
        { SparseOptimizerKind.Adam, 0.1f },
    };

    public static TheoryData<SparseOptimizerKind> Kinds => new()
    {
        SparseOptimizerKind.Sgd, SparseOptimizerKind.Adagrad, SparseOptimizerKind.RowWiseAdagrad, SparseOptimizerKind.Adam,
    };

    private static SparseOptimizerSettings Make(SparseOptimizerKind kind, float initialAccumulator = 0f) => (kind switch
    {
        SparseOptimizerKind.Sgd => SparseOptimizerSettings.Sgd(0.1f),
        SparseOptimizerKind.Adagrad => SparseOptimizerSettings.Adagrad(0.1f),
        SparseOptimizerKind.RowWiseAdagrad => SparseOptimizerSettings.RowWiseAdagrad(0.1f),
        _ => SparseOptimizerSettings.Adam(0.05f),
    }) with { InitialAccumulator = initialAccumulator };

    private static FullTable NewTable(SparseOptimizerSettings settings, Random rng)
    {
        var table = new FullTable("t", [new TableFeature("f")], Rows, Dim, settings) { Threads = 1 };
        table.Weights.SetWeights(TableCases.RandomArray(rng, table.Weights.WeightCount));
        return table;
    }

    /// <summary>Gradients summed per row in the order the ids come, as the table's accumulator does.</summary>
    private static Dictionary<long, double[]> SumPerRow(long[] ids, float[] grads)
    {
        var sums = new Dictionary<long, double[]>();
        for (int i = 0; i < ids.Length; i++)
        {
            if (!sums.TryGetValue(ids[i], out var g)) sums.Add(ids[i], g = new double[Dim]);
            for (int d = 0; d < Dim; d++) g[d] += grads[i * Dim + d];
        }
        return sums;
    }

    private static float[] StateOf(EmbeddingMatrix m, long row) => m.StateWidth == 0 ? [] : m.StateRow(row).ToArray();

    private static bool BitEqual(ReadOnlySpan<float> a, ReadOnlySpan<float> b) =>
        MemoryMarshal.Cast<float, int>(a).SequenceEqual(MemoryMarshal.Cast<float, int>(b));

    [Theory]
    [MemberData(nameof(Settings))]
    public void Steps_MatchScalarReference_WithDuplicateIds(SparseOptimizerKind kind, float initialAccumulator)
    {
        var settings = Make(kind, initialAccumulator);
        var rng = new Random(31);
        using var table = NewTable(settings, rng);
        var m = table.Weights;
        var reference = new ReferenceOptimizer(settings, m);
        float[][] initialState = Enumerable.Range(0, Rows).Select(r => StateOf(m, r)).ToArray();
        float[] initialWeights = m.CopyWeights();

        for (int step = 1; step <= 6; step++)
        {
            // Each step draws from its own 10 of the hot rows, so rows sit out some steps and some are first touched late.
            long[] subset = Enumerable.Range(0, HotRows).OrderBy(_ => rng.Next()).Take(10).Select(r => (long)r).ToArray();
            long[] ids = Enumerable.Range(0, 30).Select(_ => subset[rng.Next(subset.Length)]).ToArray();
            ids[1] = ids[0];
            ids[17] = ids[0];
            float[] grads = TableCases.RandomArray(rng, ids.Length * Dim);

            float[] weightsBefore = m.CopyWeights();
            float[][] stateBefore = Enumerable.Range(0, Rows).Select(r => StateOf(m, r)).ToArray();
            table.BackwardLookup(0, ids, grads);
            reference.Step(SumPerRow(ids, grads));

            reference.AssertMatches(m, $"{kind} step {step}", relTol: 1e-4, absTol: 1e-6);
            float[] weightsAfter = m.CopyWeights();
            for (int r = 0; r < Rows; r++)
            {
                if (ids.Contains(r)) continue;
                Assert.True(BitEqual(weightsBefore.AsSpan(r * Dim, Dim), weightsAfter.AsSpan(r * Dim, Dim)), $"step {step}: untouched row {r} changed");
                Assert.True(BitEqual(stateBefore[r], StateOf(m, r)), $"step {step}: state of untouched row {r} changed");
            }
        }

        Assert.Equal(6, m.StepCount);
        for (int r = HotRows; r < Rows; r++) Assert.True(BitEqual(initialState[r], StateOf(m, r)), $"never-touched row {r} has new state");
        // The steps must move the weights far beyond the tolerance, or the comparison above proves little.
        float[] finalWeights = m.CopyWeights();
        double moved = Enumerable.Range(0, HotRows * Dim).Max(i => Math.Abs(finalWeights[i] - initialWeights[i]));
        Assert.True(moved > 0.05, $"weights moved at most {moved}");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void DuplicateIds_UpdateOnceWithSummedGradient_BitExact(SparseOptimizerKind kind)
    {
        var settings = Make(kind, 0.1f);
        var rng = new Random(37);
        float[] weights = TableCases.RandomArray(rng, Rows * Dim);
        using var repeated = NewTable(settings, rng);
        using var summed = NewTable(settings, rng);
        repeated.Weights.SetWeights(weights);
        summed.Weights.SetWeights(weights);

        long[] ids = [3, 5, 3, 9, 3, 5];
        float[] grads = TableCases.RandomArray(rng, ids.Length * Dim);
        long[] unique = [3, 5, 9];
        var sums = new float[unique.Length * Dim];
        for (int i = 0; i < ids.Length; i++)
        {
            int u = Array.IndexOf(unique, ids[i]);
            for (int d = 0; d < Dim; d++) sums[u * Dim + d] += grads[i * Dim + d];
        }

        for (int step = 0; step < 3; step++)
        {
            repeated.BackwardLookup(0, ids, grads);
            summed.BackwardLookup(0, unique, sums);
        }

        Assert.True(BitEqual(summed.Weights.CopyWeights(), repeated.Weights.CopyWeights()));
        for (int r = 0; r < Rows; r++) Assert.True(BitEqual(StateOf(summed.Weights, r), StateOf(repeated.Weights, r)), $"state of row {r}");
        Assert.Equal(summed.Weights.StepCount, repeated.Weights.StepCount);
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void InitialAccumulator_SeedsAdagradStateOnly(SparseOptimizerKind kind, float initialAccumulator)
    {
        using var m = new EmbeddingMatrix("m", 7, 5, Make(kind, initialAccumulator));
        float expected = kind is SparseOptimizerKind.Adagrad or SparseOptimizerKind.RowWiseAdagrad ? initialAccumulator : 0f;
        Assert.Equal(Make(kind).StateWidth(5), m.StateWidth);
        for (int r = 0; r < m.Rows; r++) Assert.All(StateOf(m, r), s => Assert.Equal(expected, s));
    }

    /// <summary>
    /// Lazy Adam corrects bias with the matrix's global step, not the row's own count: a row first touched at
    /// step 3 is corrected with t = 3, and a row that sits out a step keeps its moments and weights.
    /// </summary>
    [Fact]
    public void Adam_RowFirstTouchedLate_UsesGlobalStep()
    {
        var settings = SparseOptimizerSettings.Adam(0.05f);
        var rng = new Random(41);
        using var table = NewTable(settings, rng);
        var m = table.Weights;
        float[] g = TableCases.RandomArray(rng, Dim);
        table.BackwardLookup(0, [0], g);
        table.BackwardLookup(0, [0], g);
        float[] row0Weights = m.Row(0).ToArray(), row0State = StateOf(m, 0), row1Weights = m.Row(1).ToArray();

        table.BackwardLookup(0, [1], g);

        Assert.Equal(3, m.StepCount);
        Assert.True(BitEqual(row0Weights, m.Row(0)) && BitEqual(row0State, StateOf(m, 0)), "row 0 sat out step 3 but changed");
        double b1 = settings.Beta1, b2 = settings.Beta2, lr = settings.LearningRate, eps = settings.Epsilon;
        double bc1 = 1 - Math.Pow(b1, 3), bc2 = 1 - Math.Pow(b2, 3);
        var expected = new double[Dim];
        var expectedState = new double[2 * Dim];
        for (int d = 0; d < Dim; d++)
        {
            double mt = (1 - b1) * g[d], vt = (1 - b2) * g[d] * g[d];
            expectedState[d] = mt;
            expectedState[Dim + d] = vt;
            expected[d] = row1Weights[d] - lr * (mt / bc1) / (Math.Sqrt(vt / bc2) + eps);
        }
        TorchReference.AssertClose(expected, m.Row(1), "row 1 after its first update at t = 3");
        TorchReference.AssertClose(expectedState, m.StateRow(1), "moments of row 1");
        // With t = 1 the step would be about lr * sign(g); at t = 3 it is about 0.64 of that.
        double firstStep = Math.Abs(row1Weights[0] - m.Row(1)[0]);
        Assert.InRange(firstStep, 0.6 * lr, 0.7 * lr);
    }
}
