using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace RecsysEmbed.Core.Export;

/// <summary>How a row is stored for serving.</summary>
public enum RowFormat : byte
{
    /// <summary>Dim x f32, exact.</summary>
    Fp32 = 0,
    /// <summary>Dim x f16: relative error at most 2^-11 (as <see cref="RowExport.ToFp16"/>).</summary>
    Fp16 = 1,
    /// <summary>f32 scale | f32 bias | Dim x u8 codes, row-wise as <see cref="RowExport.ToInt8RowWise"/>.</summary>
    Int8 = 2,
}

/// <summary>
/// One row at a time in the export formats of <see cref="RowExport"/> (same rounding, so a row encoded here decodes
/// to what the whole-matrix export gives), for stores that keep rows individually. Little-endian layouts:
/// <code>
///   Fp32:  dim x f32
///   Fp16:  dim x f16
///   Int8:  f32 scale | f32 bias | dim x u8       w' = code * scale + bias
/// </code>
/// </summary>
public static class RowCodec
{
    public static int EncodedBytes(RowFormat format, int dim) => format switch
    {
        RowFormat.Fp32 => dim * sizeof(float),
        RowFormat.Fp16 => dim * 2,
        RowFormat.Int8 => 2 * sizeof(float) + dim,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown row format."),
    };

    public static RowFormat Parse(string text) => text.ToLowerInvariant() switch
    {
        "fp32" or "f32" or "float32" => RowFormat.Fp32,
        "fp16" or "f16" or "float16" or "half" => RowFormat.Fp16,
        "int8" or "i8" => RowFormat.Int8,
        _ => throw new ArgumentException($"row format '{text}' is not one of fp32, fp16, int8.", nameof(text)),
    };

    public static void Encode(RowFormat format, ReadOnlySpan<float> row, Span<byte> destination)
    {
        int dim = row.Length;
        if (destination.Length < EncodedBytes(format, dim)) ThrowHelper.TooShort(nameof(destination), EncodedBytes(format, dim), destination.Length);
        switch (format)
        {
            case RowFormat.Fp32:
                MemoryMarshal.AsBytes(row).CopyTo(destination);
                return;
            case RowFormat.Fp16:
                TensorPrimitives.ConvertToHalf(row, MemoryMarshal.Cast<byte, Half>(destination[..(dim * 2)]));
                return;
            default:
            {
                float min = float.MaxValue, max = float.MinValue;
                foreach (float w in row) { min = Math.Min(min, w); max = Math.Max(max, w); }
                float scale = max > min ? (max - min) / 255f : 1f;
                BinaryPrimitives.WriteSingleLittleEndian(destination, scale);
                BinaryPrimitives.WriteSingleLittleEndian(destination[4..], min);
                var codes = destination.Slice(8, dim);
                for (int d = 0; d < dim; d++) codes[d] = (byte)Math.Clamp((int)MathF.Round((row[d] - min) / scale), 0, 255);
                return;
            }
        }
    }

    public static void Decode(RowFormat format, ReadOnlySpan<byte> source, Span<float> row)
    {
        int dim = row.Length;
        if (source.Length < EncodedBytes(format, dim)) ThrowHelper.TooShort(nameof(source), EncodedBytes(format, dim), source.Length);
        switch (format)
        {
            case RowFormat.Fp32:
                source[..(dim * sizeof(float))].CopyTo(MemoryMarshal.AsBytes(row));
                return;
            case RowFormat.Fp16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source[..(dim * 2)]), row);
                return;
            default:
            {
                float scale = BinaryPrimitives.ReadSingleLittleEndian(source);
                float bias = BinaryPrimitives.ReadSingleLittleEndian(source[4..]);
                var codes = source.Slice(8, dim);
                for (int d = 0; d < dim; d++) row[d] = codes[d] * scale + bias;
                return;
            }
        }
    }
}
