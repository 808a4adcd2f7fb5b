using System.Runtime.InteropServices;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// fp16 / int8 rows during training. The forward must equal pooling of the dequantized rows (torch autograd in
/// float64 on those rows); a backward step must move each touched row by the autograd gradient up to one
/// quantization step (the write-back rounds), leave untouched rows bit-identical, and be unbiased: the mean of many
/// stochastic roundings converges to the value, so updates far below one step still accumulate.
/// </summary>
public sealed class LowPrecisionTableTests
{
    public static TheoryData<RowPrecision, bool, PoolingMode, bool> Cases()
    {
        var data = new TheoryData<RowPrecision, bool, PoolingMode, bool>();
        foreach (var precision in new[] { RowPrecision.Fp16, RowPrecision.Int8 })
            foreach (bool hashed in new[] { false, true })
                foreach (var pooling in new[] { PoolingMode.Sum, PoolingMode.Mean })
                    data.Add(precision, hashed, pooling, pooling == PoolingMode.Mean);
        return data;
    }

    private const long Rows = 40;
    private const int Dim = 6;

    private static LowPrecisionTable Create(RowPrecision precision, bool hashed, PoolingMode pooling, SparseOptimizerSettings optimizer) =>
        new("lp", [new TableFeature("f0", pooling)], Rows, Dim, precision, optimizer, hashed, seed: 3, init: new TableInit(1f, Seed: 5));

    private static long[] IdPool(bool hashed) => hashed ? [0, 5, 17, 1L << 40, 123_456_789, 99, 7, 3_000_000_000] : [0, 1, 5, 17, 22, 39, 30, 8];

    // Per-id vectors from the dequantized weights as a float64 leaf.
    private static (Tensor Leaf, Tensor PerId) Reference(LowPrecisionTable t, long[] ids)
    {
        var leaf = torch.tensor(Array.ConvertAll(t.CopyWeights(), x => (double)x), new long[] { t.Rows, t.Dim }, requires_grad: true);
        return (leaf, TorchReference.Gather(leaf, ids.Select(t.RowOf)));
    }

    // Largest quantization step of a row: one fp16 ulp at its largest magnitude, or the int8 scale.
    private static double Step(LowPrecisionTable t, float[] row)
    {
        float max = row.Max(MathF.Abs);
        return t.Precision == RowPrecision.Fp16 ? (double)(float)Half.BitIncrement((Half)max) - (float)(Half)max : max / 127.0;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_MatchesAutogradOnDequantizedRows(RowPrecision precision, bool hashed, PoolingMode pooling, bool weighted)
    {
        using var scope = torch.NewDisposeScope();
        using var t = Create(precision, hashed, pooling, SparseOptimizerSettings.Sgd(1f));
        var input = BagInput.Random(new Random(11), IdPool(hashed), weighted, baseOffset: 2);
        var actual = new float[input.BagCount * Dim];
        actual.AsSpan().Fill(float.NaN);
        t.Forward(0, input.View(), actual);
        var (_, perId) = Reference(t, input.Ids);
        TorchReference.AssertClose(TorchReference.ToArray(TorchReference.Pool(perId, input.Offsets, input.Weights, pooling)), actual, "pooled");

        var lookup = new float[input.Ids.Length * Dim];
        t.Lookup(0, input.Ids, lookup);
        TorchReference.AssertClose(TorchReference.ToArray(perId), lookup, "lookup");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_SgdStepMatchesAutogradGradientUpToOneQuantizationStep(RowPrecision precision, bool hashed, PoolingMode pooling, bool weighted)
    {
        using var scope = torch.NewDisposeScope();
        using var t = Create(precision, hashed, pooling, SparseOptimizerSettings.Sgd(1f));
        var rng = new Random(17);
        var input = BagInput.Random(rng, IdPool(hashed), weighted, baseOffset: 2);
        float[] grad = TableCases.RandomArray(rng, input.BagCount * Dim);
        var (leaf, perId) = Reference(t, input.Ids);
        TorchReference.BackwardOfDot(TorchReference.Pool(perId, input.Offsets, input.Weights, pooling), grad);
        double[] g = TorchReference.GradOf(leaf);
        float[] before = t.CopyWeights();

        t.Backward(0, input.View(), grad);

        float[] after = t.CopyWeights();
        int touched = 0, untouched = 0;
        for (long r = 0; r < Rows; r++)
        {
            int o = (int)(r * Dim);
            if (!g.AsSpan(o, Dim).ContainsAnyExcept(0.0))
            {
                untouched++;
                Assert.True(MemoryMarshal.Cast<float, int>(before.AsSpan(o, Dim)).SequenceEqual(MemoryMarshal.Cast<float, int>(after.AsSpan(o, Dim))),
                            $"row {r} has no gradient but changed");
                continue;
            }
            touched++;
            double step = Step(t, after.AsSpan(o, Dim).ToArray());
            for (int d = 0; d < Dim; d++)
            {
                double expected = before[o + d] - g[o + d];
                Assert.True(Math.Abs(after[o + d] - expected) <= step * 1.0001 + 1e-7,
                            $"row {r}[{d}] = {after[o + d]}, expected {expected} within one quantization step {step}");
            }
        }
        Assert.True(touched > 0 && untouched > 0, $"touched {touched}, untouched {untouched}: the check needs both");
    }

    [Theory]
    [InlineData(RowPrecision.Fp16)]
    [InlineData(RowPrecision.Int8)]
    public void Backward_RepeatedIdsGetOneRowWiseAdagradStepWithTheSummedGradient(RowPrecision precision)
    {
        using var scope = torch.NewDisposeScope();
        var settings = SparseOptimizerSettings.RowWiseAdagrad(0.1f) with { InitialAccumulator = 0.05f };
        using var t = Create(precision, hashed: false, PoolingMode.Sum, settings);
        long[] ids = [5, 5, 9, 5, 9, 2];
        int[] offsets = [0, 3, 6];
        float[] grad = TableCases.RandomArray(new Random(3), 2 * Dim);
        var (leaf, perId) = Reference(t, ids);
        TorchReference.BackwardOfDot(TorchReference.Pool(perId, offsets, null, PoolingMode.Sum), grad);
        double[] g = TorchReference.GradOf(leaf);
        float[] before = t.CopyWeights();

        t.Backward(0, new BagInput(ids, offsets, null).View(), grad);

        float[] after = t.CopyWeights();
        foreach (long r in new long[] { 2, 5, 9 })
        {
            int o = (int)(r * Dim);
            double meanSq = 0;
            for (int d = 0; d < Dim; d++) meanSq += g[o + d] * g[o + d] / Dim;
            double acc = 0.05 + meanSq;
            Assert.Equal(acc, t.StateRow(r)[0], 1e-5);
            double step = Step(t, after.AsSpan(o, Dim).ToArray());
            for (int d = 0; d < Dim; d++)
            {
                double expected = before[o + d] - 0.1 * g[o + d] / (Math.Sqrt(acc) + 1e-8);
                Assert.True(Math.Abs(after[o + d] - expected) <= step * 1.0001 + 1e-6, $"row {r}[{d}] = {after[o + d]}, expected {expected} (step {step})");
            }
        }
    }

    public static TheoryData<float> Values => new() { 0.1f, -0.7f, 1.0001f, 3.14159f, 1e-3f, 6.5e-6f };

    [Theory]
    [MemberData(nameof(Values))]
    public void StochasticHalf_MeanOfManyRoundingsConvergesToTheValue(float x)
    {
        const int n = 200_000;
        var rng = new SplitMix64(42);
        Half below = (float)(Half)x <= x ? (Half)x : Half.BitDecrement((Half)x);
        Half above = Half.BitIncrement(below);
        double lo = (float)below, hi = (float)above, p = (x - lo) / (hi - lo);
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            Half h = LowPrecisionTable.StochasticHalf(x, rng.NextDouble());
            Assert.True(h == below || h == above, $"{(float)h} is not a neighbour of {x}");
            sum += (float)h;
        }
        double sigma = (hi - lo) * Math.Sqrt(p * (1 - p) / n);
        Assert.True(Math.Abs(sum / n - x) <= 5 * sigma + 1e-12, $"mean {sum / n:R} vs {x:R} (sigma {sigma:E2})");
        // Round-to-nearest is off by min(p, 1 - p) steps; the test could tell it apart.
        Assert.True(Math.Min(p, 1 - p) * (hi - lo) > 10 * sigma, "the value is too close to a representable half to show anything");
    }

    [Theory]
    [InlineData(0.1f)]
    [InlineData(-3.3f)]
    [InlineData(126.75f)]
    public void StochasticInt_MeanOfManyRoundingsConvergesToTheValue(float x)
    {
        const int n = 200_000;
        var rng = new SplitMix64(7);
        double sum = 0, p = x - Math.Floor(x);
        for (int i = 0; i < n; i++) sum += LowPrecisionTable.StochasticInt(x, rng.NextDouble());
        double sigma = Math.Sqrt(p * (1 - p) / n);
        Assert.True(Math.Abs(sum / n - x) <= 5 * sigma, $"mean {sum / n:R} vs {x:R}");
    }

    [Theory]
    [InlineData(RowPrecision.Fp16)]
    [InlineData(RowPrecision.Int8)]
    public void Training_UpdatesFarBelowOneStepStillMoveTheRowsOnAverage(RowPrecision precision)
    {
        // Each SGD step moves every weight by lr * 1 = 0.05 quantization steps: round-to-nearest would never move.
        using var t = new LowPrecisionTable("lp", [new TableFeature("f0")], 1, 64, precision, SparseOptimizerSettings.Sgd(1f));
        var start = Enumerable.Repeat(1f, 64).ToArray();
        start[0] = 2f; // int8: the row maximum (fixes the scale at 2 / 127 while it holds)
        t.SetRow(0, start);
        float[] before = t.DequantizedRow(0);
        double step = precision == RowPrecision.Fp16 ? 1.0 / 1024 : 2.0 / 127;
        float lr = (float)(0.05 * step);
        var grad = Enumerable.Repeat(lr, 64).ToArray();
        grad[0] = 0; // keep the maximum
        const int steps = 400;
        for (int s = 0; s < steps; s++) t.Backward(0, new BagInput([0], [0, 1], null).View(), grad);

        float[] after = t.DequantizedRow(0);
        double drift = 0;
        for (int d = 1; d < 64; d++) drift += before[d] - after[d];
        drift /= 63;
        double expected = steps * (double)lr; // 20 steps
        Assert.InRange(drift, expected * 0.85, expected * 1.15);
    }

    [Fact]
    public void Memory_CountsStoredBytesAndFp32State()
    {
        var adam = SparseOptimizerSettings.Adam(0.01f);
        using var half = new LowPrecisionTable("h", [new TableFeature("f0")], 100, 16, RowPrecision.Fp16, adam);
        using var int8 = new LowPrecisionTable("q", [new TableFeature("f0")], 100, 16, RowPrecision.Int8, adam);
        Assert.Equal(new TableMemory(1600, 3200, 3200, 12800), half.Memory);
        Assert.Equal(new TableMemory(1600, 1600 + 400, 3200, 12800), int8.Memory);
        Assert.Equal(int8.Memory.WeightBytes, LowPrecisionTable.WeightBytesOf(100, 16, RowPrecision.Int8));
    }

    [Fact]
    public void Ids_OutOfRangeOrNegativeThrowNamingTheIdAndChangeNoWeight()
    {
        using var full = Create(RowPrecision.Fp16, hashed: false, PoolingMode.Sum, SparseOptimizerSettings.Sgd(0.1f));
        using var hashed = Create(RowPrecision.Int8, hashed: true, PoolingMode.Sum, SparseOptimizerSettings.Sgd(0.1f));
        var grad = new float[2 * Dim];
        grad.AsSpan().Fill(1f);
        foreach (var (table, bad) in new[] { (full, Rows), (full, -1L), (hashed, -5L) })
        {
            var before = TableFamilies.Capture(table);
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => table.Backward(0, new BagInput([3, bad], [0, 1, 2], null).View(), grad));
            Assert.Equal("ids", ex.ParamName);
            Assert.Contains(bad.ToString(), ex.Message);
            TableFamilies.AssertUnchanged(before, table);
        }
    }
}
