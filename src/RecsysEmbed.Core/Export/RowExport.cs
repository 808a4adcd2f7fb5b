using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Export;

/// <summary>Rows quantised int8 per row: q = round((w - bias) / scale), w' = q * scale + bias, q in [0, 255].</summary>
public sealed class Int8RowWiseRows
{
    public required long Rows { get; init; }
    public required int Dim { get; init; }
    /// <summary>Rows * Dim codes, row-major.</summary>
    public required byte[] Codes { get; init; }
    public required float[] Scales { get; init; }
    public required float[] Biases { get; init; }

    public float Dequantize(long row, int d) => Codes[row * Dim + d] * Scales[row] + Biases[row];

    public void DequantizeRow(long row, Span<float> destination)
    {
        float s = Scales[row], b = Biases[row];
        var codes = Codes.AsSpan((int)(row * Dim), Dim);
        for (int d = 0; d < Dim; d++) destination[d] = codes[d] * s + b;
    }
}

/// <summary>Measured error of an export against the fp32 rows.</summary>
public readonly record struct ExportError(double MaxAbsError, double MeanAbsError, double MaxAllowedAbsError);

/// <summary>
/// Exports trained rows for serving: fp16 (2 bytes per weight) or int8 row-wise (1 byte per weight plus an fp32
/// scale and bias per row, as FBGEMM's fused 8-bit row-wise format). Each export reports its measured error and
/// the bound the math gives: int8 rounds to the nearest of 256 levels over [min, max] of the row, so the error is
/// at most scale / 2 = (max - min) / 510 (plus a few fp32 ulps of the row's largest magnitude for the arithmetic);
/// fp16 keeps 11 significant bits, so the relative error is at most 2^-11.
/// </summary>
public static class RowExport
{
    public static (Half[] Rows, ExportError Error) ToFp16(EmbeddingMatrix m)
    {
        long n = m.WeightCount;
        var half = new Half[n];
        double maxErr = 0, sumErr = 0, bound = 0;
        for (long r = 0; r < m.Rows; r++)
        {
            var row = m.Row(r);
            for (int d = 0; d < row.Length; d++)
            {
                float w = row[d];
                var h = (Half)w;
                half[r * m.Dim + d] = h;
                double err = Math.Abs((float)h - w);
                maxErr = Math.Max(maxErr, err);
                sumErr += err;
                // Half's subnormal step (2^-24) bounds the error of tiny values.
                bound = Math.Max(bound, Math.Max(Math.Abs(w) * Math.Pow(2, -11), Math.Pow(2, -25)));
            }
        }
        return (half, new ExportError(maxErr, n == 0 ? 0 : sumErr / n, bound));
    }

    public static (Int8RowWiseRows Rows, ExportError Error) ToInt8RowWise(EmbeddingMatrix m)
    {
        int dim = m.Dim;
        var codes = new byte[m.WeightCount];
        var scales = new float[m.Rows];
        var biases = new float[m.Rows];
        double maxErr = 0, sumErr = 0, bound = 0;
        for (long r = 0; r < m.Rows; r++)
        {
            var row = m.Row(r);
            float min = float.MaxValue, max = float.MinValue;
            foreach (float w in row) { min = Math.Min(min, w); max = Math.Max(max, w); }
            float scale = max > min ? (max - min) / 255f : 1f;
            scales[r] = scale;
            biases[r] = min;
            // Exact arithmetic gives scale / 2; quantising and dequantising in fp32 adds up to a few ulps of the row's
            // largest magnitude, which dominate when the row sits far from zero compared with its spread.
            float maxAbs = Math.Max(Math.Abs(min), Math.Abs(max));
            bound = Math.Max(bound, max > min ? scale / 2.0 + 4.0 * (MathF.BitIncrement(maxAbs) - maxAbs) : 0);
            for (int d = 0; d < dim; d++)
            {
                int q = (int)MathF.Round((row[d] - min) / scale);
                q = Math.Clamp(q, 0, 255);
                codes[r * dim + d] = (byte)q;
                double err = Math.Abs(q * scale + min - row[d]);
                maxErr = Math.Max(maxErr, err);
                sumErr += err;
            }
        }
        var rows = new Int8RowWiseRows { Rows = m.Rows, Dim = dim, Codes = codes, Scales = scales, Biases = biases };
        long count = m.WeightCount;
        return (rows, new ExportError(maxErr, count == 0 ? 0 : sumErr / count, bound));
    }
}
