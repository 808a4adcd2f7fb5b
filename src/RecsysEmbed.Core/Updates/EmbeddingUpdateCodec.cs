using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace RecsysEmbed.Core.Updates;

/// <summary>One embedding row as published by a trainer: table, row, model version and the row's fp32 values.</summary>
/// <param name="Table">Table name as in the model config.</param>
/// <param name="Row">Physical row index inside the table (after hashing / QR / unified-embedding addressing).</param>
/// <param name="ModelVersion">Monotonic version of the trainer's model when the row was published; a row's version never goes backwards.</param>
/// <param name="SourceTimeUnixMs">Latest production time (Unix ms) of the training records that changed the row; for freshness.</param>
/// <param name="Values">The row, fp32.</param>
public readonly record struct RowUpdate(string Table, long Row, long ModelVersion, long SourceTimeUnixMs, ReadOnlyMemory<float> Values);

/// <summary>The dense part of the model (all non-embedding parameters) as one versioned blob.</summary>
public readonly record struct DenseUpdate(long ModelVersion, long SourceTimeUnixMs, ReadOnlyMemory<byte> Payload);

/// <summary>
/// Wire format of the update topic that the stream trainer publishes and the lookup service applies.
/// Keys are chosen so that all versions of one row hash to one partition and therefore stay in order.
/// <code>
/// row key   : 'R' | u16 nameLen | name (UTF-8) | i64 row                          (little-endian)
/// row value : u8 format(=1) | u8 kind(='R') | u16 dim | i64 modelVersion | i64 sourceTimeMs | dim x f32
/// dense key : 'D' (one key, so dense versions stay ordered in one partition)
/// dense val : u8 format(=1) | u8 kind(='D') | u16 0 | i64 modelVersion | i64 sourceTimeMs | payload bytes
/// </code>
/// Decoding validates every field and throws <see cref="FormatException"/> naming the field and value.
/// </summary>
public static class EmbeddingUpdateCodec
{
    public const byte FormatVersion = 1;
    public const byte RowKind = (byte)'R';
    public const byte DenseKind = (byte)'D';
    public const int ValueHeaderBytes = 1 + 1 + 2 + 8 + 8;
    public const int MaxDim = ushort.MaxValue;

    /// <summary>The single key every dense update is published under.</summary>
    public static ReadOnlySpan<byte> DenseKey => [DenseKind];

    public static int RowKeyLength(string table) => 1 + 2 + Encoding.UTF8.GetByteCount(table) + 8;

    public static byte[] EncodeRowKey(string table, long row)
    {
        var key = new byte[RowKeyLength(table)];
        WriteRowKey(key, table, row);
        return key;
    }

    public static int WriteRowKey(Span<byte> destination, string table, long row)
    {
        ArgumentException.ThrowIfNullOrEmpty(table);
        if (row < 0) ThrowHelper.OutOfRange(nameof(row), row, "row must be >= 0.");
        int nameBytes = Encoding.UTF8.GetByteCount(table);
        if (nameBytes > ushort.MaxValue) ThrowHelper.Argument(nameof(table), $"table name is {nameBytes} bytes; at most {ushort.MaxValue}.");
        int length = 1 + 2 + nameBytes + 8;
        if (destination.Length < length) ThrowHelper.TooShort(nameof(destination), length, destination.Length);
        destination[0] = RowKind;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[1..], (ushort)nameBytes);
        Encoding.UTF8.GetBytes(table, destination.Slice(3, nameBytes));
        BinaryPrimitives.WriteInt64LittleEndian(destination[(3 + nameBytes)..], row);
        return length;
    }

    public static int RowValueLength(int dim) => ValueHeaderBytes + dim * sizeof(float);

    public static byte[] EncodeRowValue(long modelVersion, long sourceTimeUnixMs, ReadOnlySpan<float> values)
    {
        var value = new byte[RowValueLength(values.Length)];
        WriteRowValue(value, modelVersion, sourceTimeUnixMs, values);
        return value;
    }

    public static int WriteRowValue(Span<byte> destination, long modelVersion, long sourceTimeUnixMs, ReadOnlySpan<float> values)
    {
        if (values.Length is 0 or > MaxDim) ThrowHelper.OutOfRange(nameof(values), values.Length, $"a row has 1..{MaxDim} values.");
        int length = RowValueLength(values.Length);
        if (destination.Length < length) ThrowHelper.TooShort(nameof(destination), length, destination.Length);
        WriteHeader(destination, RowKind, (ushort)values.Length, modelVersion, sourceTimeUnixMs);
        MemoryMarshal.AsBytes(values).CopyTo(destination[ValueHeaderBytes..]);
        if (!BitConverter.IsLittleEndian) ReverseFloats(destination.Slice(ValueHeaderBytes, values.Length * sizeof(float)));
        return length;
    }

    public static byte[] EncodeDenseValue(long modelVersion, long sourceTimeUnixMs, ReadOnlySpan<byte> payload)
    {
        var value = new byte[ValueHeaderBytes + payload.Length];
        WriteHeader(value, DenseKind, 0, modelVersion, sourceTimeUnixMs);
        payload.CopyTo(value.AsSpan(ValueHeaderBytes));
        return value;
    }

    /// <summary>True for a row key, false for the dense key; throws on anything else.</summary>
    public static bool IsRowKey(ReadOnlySpan<byte> key)
    {
        if (key.Length == 1 && key[0] == DenseKind) return false;
        if (key.Length >= 1 && key[0] == RowKind) return true;
        throw new FormatException(key.Length == 0 ? "update key: empty" : $"update key: kind byte {key[0]} is neither 'R' (row) nor 'D' (dense).");
    }

    public static (string Table, long Row) DecodeRowKey(ReadOnlySpan<byte> key)
    {
        if (key.Length < 1 + 2 + 1 + 8 || key[0] != RowKind)
            throw new FormatException($"update key: {key.Length} bytes is not a row key ('R' | u16 length | name | i64 row).");
        int nameBytes = BinaryPrimitives.ReadUInt16LittleEndian(key[1..]);
        if (key.Length != 1 + 2 + nameBytes + 8)
            throw new FormatException($"update key: name length {nameBytes} does not match the key's {key.Length} bytes.");
        string table = Encoding.UTF8.GetString(key.Slice(3, nameBytes));
        long row = BinaryPrimitives.ReadInt64LittleEndian(key[(3 + nameBytes)..]);
        if (row < 0) throw new FormatException($"update key: row = {row} is negative.");
        return (table, row);
    }

    /// <summary>Decodes a row value; the returned floats are a fresh array so the message buffer can be reused.</summary>
    public static RowUpdate DecodeRow(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var (table, row) = DecodeRowKey(key);
        var (dim, version, sourceTime) = ReadHeader(value, RowKind);
        if (dim == 0) throw new FormatException("update value: dim = 0; a row has at least one value.");
        int expected = RowValueLength(dim);
        if (value.Length != expected)
            throw new FormatException($"update value: length {value.Length} does not match dim = {dim} (expected {expected} bytes).");
        var values = new float[dim];
        DecodeValuesInto(value, values);
        return new RowUpdate(table, row, version, sourceTime, values);
    }

    /// <summary>Copies a row value's floats into <paramref name="destination"/> without allocating; returns the header.</summary>
    public static (int Dim, long ModelVersion, long SourceTimeUnixMs) DecodeValuesInto(ReadOnlySpan<byte> value, Span<float> destination)
    {
        var header = ReadHeader(value, RowKind);
        if (value.Length != RowValueLength(header.Dim))
            throw new FormatException($"update value: length {value.Length} does not match dim = {header.Dim}.");
        if (destination.Length < header.Dim) ThrowHelper.TooShort(nameof(destination), header.Dim, destination.Length);
        var floats = destination[..header.Dim];
        value.Slice(ValueHeaderBytes, header.Dim * sizeof(float)).CopyTo(MemoryMarshal.AsBytes(floats));
        if (!BitConverter.IsLittleEndian) ReverseFloats(MemoryMarshal.AsBytes(floats));
        for (int i = 0; i < floats.Length; i++)
            if (!float.IsFinite(floats[i])) throw new FormatException($"update value: values[{i}] = {floats[i]} is not finite.");
        return header;
    }

    public static DenseUpdate DecodeDense(ReadOnlySpan<byte> value)
    {
        var (_, version, sourceTime) = ReadHeader(value, DenseKind);
        return new DenseUpdate(version, sourceTime, value[ValueHeaderBytes..].ToArray());
    }

    static void WriteHeader(Span<byte> destination, byte kind, ushort dim, long modelVersion, long sourceTimeUnixMs)
    {
        if (modelVersion < 0) ThrowHelper.OutOfRange(nameof(modelVersion), modelVersion, "model version must be >= 0.");
        destination[0] = FormatVersion;
        destination[1] = kind;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], dim);
        BinaryPrimitives.WriteInt64LittleEndian(destination[4..], modelVersion);
        BinaryPrimitives.WriteInt64LittleEndian(destination[12..], sourceTimeUnixMs);
    }

    static (int Dim, long ModelVersion, long SourceTimeUnixMs) ReadHeader(ReadOnlySpan<byte> value, byte kind)
    {
        if (value.Length < ValueHeaderBytes)
            throw new FormatException($"update value: {value.Length} bytes is shorter than the {ValueHeaderBytes}-byte header.");
        if (value[0] != FormatVersion) throw new FormatException($"update value: format = {value[0]}; this build reads format {FormatVersion}.");
        if (value[1] != kind) throw new FormatException($"update value: kind = '{(char)value[1]}', expected '{(char)kind}'.");
        int dim = BinaryPrimitives.ReadUInt16LittleEndian(value[2..]);
        long version = BinaryPrimitives.ReadInt64LittleEndian(value[4..]);
        if (version < 0) throw new FormatException($"update value: modelVersion = {version} is negative.");
        return (dim, version, BinaryPrimitives.ReadInt64LittleEndian(value[12..]));
    }

    static void ReverseFloats(Span<byte> bytes)
    {
        var words = MemoryMarshal.Cast<byte, uint>(bytes);
        for (int i = 0; i < words.Length; i++) words[i] = BinaryPrimitives.ReverseEndianness(words[i]);
    }
}
