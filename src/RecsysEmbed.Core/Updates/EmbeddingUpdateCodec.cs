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
/// Growth of one feature's id vocabulary: indices <see cref="FirstIndex"/>.. are owned by <see cref="Ids"/>, in order.
/// </summary>
/// <param name="Feature">Feature name as in the model config (vocabularies are per feature, even on a shared table).</param>
/// <param name="FirstIndex">Dense index of <c>Ids[0]</c>; <c>Ids[i]</c> owns index FirstIndex + i.</param>
/// <param name="Ids">63-bit hashed ids (never negative), at least one.</param>
public readonly record struct VocabularyUpdate(string Feature, long FirstIndex, long ModelVersion, long SourceTimeUnixMs, ReadOnlyMemory<long> Ids);

/// <summary>
/// Wire format of the update topic that the stream trainer publishes and the lookup service applies.
/// Keys are chosen so that all versions of one row hash to one partition and therefore stay in order.
/// <code>
/// row key   : 'R' | u16 nameLen | name (UTF-8) | i64 row                          (little-endian)
/// row value : u8 format(=1) | u8 kind(='R') | u16 dim | i64 modelVersion | i64 sourceTimeMs | dim x f32
/// dense key : 'D' (one key, so dense versions stay ordered in one partition)
/// dense val : u8 format(=1) | u8 kind(='D') | u16 0 | i64 modelVersion | i64 sourceTimeMs | payload bytes
/// vocab key : 'V' | u16 nameLen | feature name (UTF-8) | i64 firstIndex               (one key per chunk: compaction keeps all)
/// vocab val : u8 format(=1) | u8 kind(='V') | u16 count | i64 modelVersion | i64 sourceTimeMs | count x i64 id
/// </code>
/// A vocab record says that ids[i] owns dense index firstIndex + i of the feature's vocabulary; the trainer publishes
/// them before the rows of the same publication, so the service can map values first seen after its checkpoint.
/// Decoding validates every field and throws <see cref="FormatException"/> naming the field and value.
/// </summary>
public static class EmbeddingUpdateCodec
{
    public const byte FormatVersion = 1;
    public const byte RowKind = (byte)'R';
    public const byte DenseKind = (byte)'D';
    public const byte VocabularyKind = (byte)'V';
    /// <summary>Most ids in one vocabulary record (the header's u16 count).</summary>
    public const int MaxVocabularyIds = ushort.MaxValue;
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

    /// <summary>True for a row key, false for the dense key; throws on anything else (vocabulary keys included).</summary>
    public static bool IsRowKey(ReadOnlySpan<byte> key)
    {
        byte kind = KindOf(key);
        if (kind == VocabularyKind) throw new FormatException("update key: a vocabulary key ('V') is neither a row nor the dense key; use KindOf.");
        return kind == RowKind;
    }

    /// <summary>The record's kind: <see cref="RowKind"/>, <see cref="DenseKind"/> or <see cref="VocabularyKind"/>; throws on anything else.</summary>
    public static byte KindOf(ReadOnlySpan<byte> key)
    {
        if (key.Length == 1 && key[0] == DenseKind) return DenseKind;
        if (key.Length >= 1 && (key[0] == RowKind || key[0] == VocabularyKind)) return key[0];
        throw new FormatException(key.Length == 0 ? "update key: empty" : $"update key: kind byte {key[0]} is none of 'R' (row), 'D' (dense), 'V' (vocabulary).");
    }

    public static byte[] EncodeVocabularyKey(string feature, long firstIndex)
    {
        ArgumentException.ThrowIfNullOrEmpty(feature);
        if (firstIndex < 0) ThrowHelper.OutOfRange(nameof(firstIndex), firstIndex, "first index must be >= 0.");
        int nameBytes = Encoding.UTF8.GetByteCount(feature);
        if (nameBytes > ushort.MaxValue) ThrowHelper.Argument(nameof(feature), $"feature name is {nameBytes} bytes; at most {ushort.MaxValue}.");
        var key = new byte[1 + 2 + nameBytes + 8];
        key[0] = VocabularyKind;
        BinaryPrimitives.WriteUInt16LittleEndian(key.AsSpan(1), (ushort)nameBytes);
        Encoding.UTF8.GetBytes(feature, key.AsSpan(3, nameBytes));
        BinaryPrimitives.WriteInt64LittleEndian(key.AsSpan(3 + nameBytes), firstIndex);
        return key;
    }

    public static byte[] EncodeVocabularyValue(long modelVersion, long sourceTimeUnixMs, ReadOnlySpan<long> ids)
    {
        if (ids.Length is 0 or > MaxVocabularyIds) ThrowHelper.OutOfRange(nameof(ids), ids.Length, $"a vocabulary record has 1..{MaxVocabularyIds} ids.");
        var value = new byte[ValueHeaderBytes + ids.Length * sizeof(long)];
        WriteHeader(value, VocabularyKind, (ushort)ids.Length, modelVersion, sourceTimeUnixMs);
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] < 0) ThrowHelper.OutOfRange(nameof(ids), ids[i], $"ids[{i}] = {ids[i]}: ids are 63-bit hashes, never negative.");
            BinaryPrimitives.WriteInt64LittleEndian(value.AsSpan(ValueHeaderBytes + i * sizeof(long)), ids[i]);
        }
        return value;
    }

    /// <summary>Decodes a vocabulary record; refuses a malformed one with a <see cref="FormatException"/> naming the field.</summary>
    public static VocabularyUpdate DecodeVocabulary(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        if (key.Length < 1 + 2 + 1 + 8 || key[0] != VocabularyKind)
            throw new FormatException($"vocabulary key: {key.Length} bytes is not a vocabulary key ('V' | u16 length | feature | i64 firstIndex).");
        int nameBytes = BinaryPrimitives.ReadUInt16LittleEndian(key[1..]);
        if (key.Length != 1 + 2 + nameBytes + 8)
            throw new FormatException($"vocabulary key: feature name length {nameBytes} does not match the key's {key.Length} bytes.");
        string feature = Encoding.UTF8.GetString(key.Slice(3, nameBytes));
        long first = BinaryPrimitives.ReadInt64LittleEndian(key[(3 + nameBytes)..]);
        if (first < 0) throw new FormatException($"vocabulary key: firstIndex = {first} is negative.");
        var (count, version, sourceTime) = ReadHeader(value, VocabularyKind);
        if (count == 0) throw new FormatException("vocabulary value: count = 0; a vocabulary record has at least one id.");
        int expected = ValueHeaderBytes + count * sizeof(long);
        if (value.Length != expected)
            throw new FormatException($"vocabulary value: length {value.Length} does not match count = {count} (expected {expected} bytes).");
        if (first > long.MaxValue - count) throw new FormatException($"vocabulary key: firstIndex = {first} + count = {count} overflows.");
        var ids = new long[count];
        for (int i = 0; i < count; i++)
        {
            ids[i] = BinaryPrimitives.ReadInt64LittleEndian(value[(ValueHeaderBytes + i * sizeof(long))..]);
            if (ids[i] < 0) throw new FormatException($"vocabulary value: ids[{i}] = {ids[i]} is negative (ids are 63-bit hashes).");
        }
        return new VocabularyUpdate(feature, first, version, sourceTime, ids);
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
