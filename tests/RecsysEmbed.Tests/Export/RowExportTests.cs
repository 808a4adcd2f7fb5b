using RecsysEmbed.Core.Export;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Export;

public class RowExportTests
{
    private static EmbeddingMatrix Matrix(long rows, int dim, Func<long, int, float> value)
    {
        var m = new EmbeddingMatrix("m", rows, dim, SparseOptimizerSettings.Sgd(0.1f));
        var data = new float[rows * dim];
        for (long r = 0; r < rows; r++)
            for (int d = 0; d < dim; d++) data[r * dim + d] = value(r, d);
        m.SetWeights(data);
        return m;
    }

    private static EmbeddingMatrix RandomMatrix(long rows, int dim, int seed, float scale = 1f, float offset = 0f)
    {
        var rng = new Random(seed);
        return Matrix(rows, dim, (_, _) => offset + (float)(rng.NextDouble() * 2 - 1) * scale);
    }

    // One fp32 unit in the last place of the largest magnitude in a row: quantising and dequantising in fp32
    // ((w - bias) / scale, q * scale + bias) may add a few of these on top of the exact-arithmetic bound scale / 2.
    private static double Ulp(ReadOnlySpan<float> row)
    {
        float maxAbs = 0;
        foreach (float w in row) maxAbs = Math.Max(maxAbs, Math.Abs(w));
        return MathF.BitIncrement(maxAbs) - maxAbs;
    }

    [Theory]
    [InlineData(1, 1f, 0f)]
    [InlineData(2, 0.05f, 0f)]
    [InlineData(3, 1e-4f, 0f)]
    [InlineData(4, 3f, 0.5f)]
    [InlineData(5, 100f, -20f)]
    [InlineData(6, 1e-3f, 10f)]
    public void ToInt8RowWise_RoundTripErrorIsWithinHalfAStep(int seed, float scale, float offset)
    {
        using var m = RandomMatrix(300, 37, seed, scale, offset);
        var (rows, error) = RowExport.ToInt8RowWise(m);

        Assert.Equal(m.Rows, rows.Rows);
        Assert.Equal(m.Dim, rows.Dim);
        Assert.Equal(m.WeightCount, rows.Codes.Length);
        var restored = new float[m.Dim];
        double maxErr = 0, sumErr = 0, maxStep = 0, maxTight = 0;
        for (long r = 0; r < m.Rows; r++)
        {
            var row = m.Row(r);
            float min = float.MaxValue, max = float.MinValue;
            foreach (float w in row) { min = Math.Min(min, w); max = Math.Max(max, w); }
            Assert.Equal(min, rows.Biases[r]);
            Assert.Equal((max - min) / 255f, rows.Scales[r], 1e-6f * (max - min));
            double halfStep = rows.Scales[r] / 2.0;
            maxStep = Math.Max(maxStep, halfStep);
            maxTight = Math.Max(maxTight, halfStep + 4 * Ulp(row));

            rows.DequantizeRow(r, restored);
            for (int d = 0; d < m.Dim; d++)
            {
                double err = Math.Abs(restored[d] - row[d]);
                Assert.True(err <= halfStep + 4 * Ulp(row), $"row {r}, col {d}: |{restored[d]} - {row[d]}| = {err:G4} > scale/2 + 4 ulp = {halfStep + 4 * Ulp(row):G4}");
                Assert.Equal(restored[d], rows.Dequantize(r, d));
                maxErr = Math.Max(maxErr, err);
                sumErr += err;
            }
        }

        // The report is sane: it measures what we measure and stays within the bound it states.
        Assert.Equal(maxErr, error.MaxAbsError, 1e-12);
        Assert.Equal(sumErr / m.WeightCount, error.MeanAbsError, 1e-9 * Math.Max(1, scale));
        Assert.True(error.MaxAbsError <= error.MaxAllowedAbsError,
            $"reported max error {error.MaxAbsError:G6} exceeds the reported bound {error.MaxAllowedAbsError:G6}");
        Assert.InRange(error.MaxAllowedAbsError, maxStep, maxTight);
        Assert.InRange(error.MeanAbsError, 0, error.MaxAbsError);
        // Uniform rounding error: the mean is about a quarter step, far from zero and from the bound.
        Assert.InRange(error.MeanAbsError, 0.1 * maxStep, 0.7 * maxStep);
    }

    [Fact]
    public void ToInt8RowWise_ReportedBoundHoldsForOffCentreRows()
    {
        // Rows whose values sit far from zero compared with their spread (trained rows drift): fp32 rounding
        // of the dequantised value is then comparable to the step itself.
        var rng = new Random(21);
        for (int trial = 0; trial < 200; trial++)
        {
            float offset = (float)(Math.Pow(10, rng.NextDouble() * 8 - 4) * (rng.Next(2) * 2 - 1));
            float spread = Math.Abs(offset) * (float)Math.Pow(10, -rng.NextDouble() * 6);
            using var m = Matrix(4, 24, (_, _) => offset + (float)(rng.NextDouble() * 2 - 1) * spread);
            var (rows, error) = RowExport.ToInt8RowWise(m);
            Assert.True(error.MaxAbsError <= error.MaxAllowedAbsError,
                $"offset {offset:G4}, spread {spread:G4}: max error {error.MaxAbsError:G6} > reported bound {error.MaxAllowedAbsError:G6}");
            double tight = 0;
            for (int r = 0; r < 4; r++) tight = Math.Max(tight, rows.Scales[r] / 2.0 + 4 * Ulp(m.Row(r)));
            Assert.True(error.MaxAllowedAbsError <= tight, $"bound {error.MaxAllowedAbsError:G6} is looser than scale/2 + 4 ulp = {tight:G6}");
        }
    }

    [Fact]
    public void ToInt8RowWise_UsesTheFullCodeRangePerRow()
    {
        using var m = RandomMatrix(50, 16, 8);
        var (rows, _) = RowExport.ToInt8RowWise(m);
        for (int r = 0; r < 50; r++)
        {
            var codes = rows.Codes.AsSpan(r * 16, 16);
            Assert.Equal(0, codes.ToArray().Min());
            Assert.Equal(255, codes.ToArray().Max());
        }
    }

    [Fact]
    public void ToInt8RowWise_ConstantRowsAreExact()
    {
        float[] constants = [0f, 1f, -3.25f, 1e-20f, 12345.678f, -float.Epsilon];
        using var m = Matrix(constants.Length, 9, (r, _) => constants[r]);
        var (rows, error) = RowExport.ToInt8RowWise(m);
        var restored = new float[9];
        for (int r = 0; r < constants.Length; r++)
        {
            rows.DequantizeRow(r, restored);
            Assert.All(restored, v => Assert.Equal(constants[r], v));
        }
        Assert.Equal(0, error.MaxAbsError);
        Assert.Equal(0, error.MeanAbsError);
        Assert.Equal(0, error.MaxAllowedAbsError);
    }

    [Fact]
    public void ToInt8RowWise_RowEndpointsAreExact()
    {
        using var m = RandomMatrix(40, 10, 12, 2f);
        var (rows, _) = RowExport.ToInt8RowWise(m);
        for (int r = 0; r < 40; r++)
        {
            var row = m.Row(r).ToArray();
            int argMin = Array.IndexOf(row, row.Min());
            Assert.Equal(row[argMin], rows.Dequantize(r, argMin));
        }
    }

    [Theory]
    [InlineData(1, 1f)]
    [InlineData(2, 0.01f)]
    [InlineData(3, 1000f)]
    public void ToFp16_RelativeErrorIsAtMostTwoToTheMinusEleven(int seed, float scale)
    {
        using var m = RandomMatrix(200, 33, seed, scale);
        var (half, error) = RowExport.ToFp16(m);
        Assert.Equal(m.WeightCount, half.Length);
        double maxErr = 0, sumErr = 0, bound = Math.Pow(2, -11);
        var weights = m.CopyWeights();
        for (int i = 0; i < weights.Length; i++)
        {
            float w = weights[i];
            double err = Math.Abs((double)(float)half[i] - w);
            if (Math.Abs(w) >= Math.Pow(2, -14)) // normal fp16 range: relative bound
                Assert.True(err <= Math.Abs(w) * bound, $"element {i}: {w} -> {(float)half[i]}, relative error {err / Math.Abs(w):G4}");
            else                                  // subnormal fp16: half the subnormal step
                Assert.True(err <= Math.Pow(2, -25));
            maxErr = Math.Max(maxErr, err);
            sumErr += err;
        }
        Assert.Equal(maxErr, error.MaxAbsError, 1e-12 * scale);
        Assert.Equal(sumErr / weights.Length, error.MeanAbsError, 1e-12 * scale);
        Assert.True(error.MaxAbsError <= error.MaxAllowedAbsError);
        Assert.InRange(error.MaxAllowedAbsError, 0, scale * bound * 1.0001);
        Assert.True(error.MeanAbsError > 0);
    }

    [Fact]
    public void ToFp16_TinyValuesStayWithinTheSubnormalBound()
    {
        using var m = Matrix(1, 6, (_, d) => d switch { 0 => 1e-6f, 1 => -3e-7f, 2 => 6e-8f, 3 => 0f, 4 => 5e-9f, _ => 1.5e-5f });
        var (half, error) = RowExport.ToFp16(m);
        var w = m.CopyWeights();
        for (int i = 0; i < w.Length; i++)
            Assert.True(Math.Abs((float)half[i] - w[i]) <= Math.Max(Math.Abs(w[i]) * Math.Pow(2, -11), Math.Pow(2, -25)));
        Assert.True(error.MaxAbsError <= error.MaxAllowedAbsError);
    }

    [Fact]
    public void ToFp16_ValuesRepresentableInHalfAreExact()
    {
        float[] exact = [0f, 1f, -2f, 0.5f, 0.375f, 1024f, -65504f, 0.000061035156f];
        using var m = Matrix(1, exact.Length, (_, d) => exact[d]);
        var (half, error) = RowExport.ToFp16(m);
        for (int i = 0; i < exact.Length; i++) Assert.Equal(exact[i], (float)half[i]);
        Assert.Equal(0, error.MaxAbsError);
    }
}
