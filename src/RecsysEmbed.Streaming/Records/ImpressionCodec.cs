using System.Buffers.Binary;
using RecsysEmbed.Data.Batching;

namespace RecsysEmbed.Streaming.Records;

/// <summary>A stream record that cannot be trained on; <see cref="Field"/> names what was wrong.</summary>
public sealed class MalformedStreamRecordException(string field, string message) : Exception($"{field}: {message}")
{
    public string Field { get; } = field;
}

/// <summary>
/// Wire format of one impression on the training topic (one sample per message), little-endian:
/// <code>
///   u8 format(=1) | i64 recordId | f32 label | u16 D | D x f32 dense | u16 F | F x ( u16 n | n x i64 id )
/// </code>
/// Ids are the engine's salted hashes of the raw values (as the offline readers produce them), so offline and
/// online training see the same ids. <c>recordId</c> is the producer's sequence number: it identifies a record in
/// tests and logs, and is never used for ordering (the partition offset is).
/// Decoding validates every field against the expected schema and throws <see cref="MalformedStreamRecordException"/>.
/// </summary>
public static class ImpressionCodec
{
    public const byte FormatVersion = 1;
    private const int HeaderBytes = 1 + 8 + 4 + 2;

    /// <summary>Bytes of sample <paramref name="sample"/> of <paramref name="batch"/> when encoded.</summary>
    public static int EncodedLength(CtrBatch batch, int sample)
    {
        int length = HeaderBytes + batch.DenseCount * 4 + 2;
        var offsets = batch.Sparse.Offsets;
        int b = batch.BatchSize;
        for (int f = 0; f < batch.Sparse.Keys.Count; f++)
            length += 2 + 8 * (offsets[f * b + sample + 1] - offsets[f * b + sample]);
        return length;
    }

    /// <summary>Writes sample <paramref name="sample"/> of a batch; returns the bytes written.</summary>
    public static int Encode(CtrBatch batch, int sample, long recordId, Span<byte> destination)
    {
        int length = EncodedLength(batch, sample);
        if (destination.Length < length) throw new ArgumentException($"destination has {destination.Length} bytes, {length} needed.", nameof(destination));
        destination[0] = FormatVersion;
        BinaryPrimitives.WriteInt64LittleEndian(destination[1..], recordId);
        BinaryPrimitives.WriteSingleLittleEndian(destination[9..], batch.Labels[sample]);
        int d = batch.DenseCount;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[13..], (ushort)d);
        int at = HeaderBytes;
        var dense = batch.DenseRow(sample);
        for (int i = 0; i < d; i++, at += 4) BinaryPrimitives.WriteSingleLittleEndian(destination[at..], dense[i]);
        var kjt = batch.Sparse;
        int features = kjt.Keys.Count, b = batch.BatchSize;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[at..], (ushort)features);
        at += 2;
        var offsets = kjt.Offsets;
        var values = kjt.Values;
        for (int f = 0; f < features; f++)
        {
            int start = offsets[f * b + sample], end = offsets[f * b + sample + 1];
            BinaryPrimitives.WriteUInt16LittleEndian(destination[at..], (ushort)(end - start));
            at += 2;
            for (int i = start; i < end; i++, at += 8) BinaryPrimitives.WriteInt64LittleEndian(destination[at..], values[i]);
        }
        return at;
    }

    /// <summary>
    /// Validates a record against the schema (<paramref name="denseCount"/> dense values, <paramref name="featureCount"/>
    /// sparse features) and, only if it is valid, appends it to <paramref name="builder"/>. Returns the record id.
    /// </summary>
    public static long Decode(ReadOnlySpan<byte> value, int denseCount, int featureCount, int maxBytes, CtrBatchBuilder builder)
    {
        long recordId = Validate(value, denseCount, featureCount, maxBytes, out float label);
        var dense = builder.BeginSample(label, recordId);
        int at = HeaderBytes;
        for (int i = 0; i < denseCount; i++, at += 4) dense[i] = BinaryPrimitives.ReadSingleLittleEndian(value[at..]);
        at += 2;
        for (int f = 0; f < featureCount; f++)
        {
            int n = BinaryPrimitives.ReadUInt16LittleEndian(value[at..]);
            at += 2;
            for (int i = 0; i < n; i++, at += 8) builder.Sparse.AddId(f, BinaryPrimitives.ReadInt64LittleEndian(value[at..]));
        }
        builder.EndSample();
        return recordId;
    }

    /// <summary>Checks every field without building anything; returns the record id.</summary>
    public static long Validate(ReadOnlySpan<byte> value, int denseCount, int featureCount, int maxBytes, out float label)
    {
        if (value.Length > maxBytes) throw new MalformedStreamRecordException("value", $"{value.Length} bytes exceeds the limit of {maxBytes} (--max-record-bytes).");
        if (value.Length < HeaderBytes) throw new MalformedStreamRecordException("value", $"{value.Length} bytes is shorter than the {HeaderBytes}-byte header.");
        if (value[0] != FormatVersion) throw new MalformedStreamRecordException("format", $"{value[0]}; this build reads format {FormatVersion}.");
        long recordId = BinaryPrimitives.ReadInt64LittleEndian(value[1..]);
        label = BinaryPrimitives.ReadSingleLittleEndian(value[9..]);
        if (label is not (0f or 1f)) throw new MalformedStreamRecordException("label", $"{label} is not 0 or 1.");
        int d = BinaryPrimitives.ReadUInt16LittleEndian(value[13..]);
        if (d != denseCount) throw new MalformedStreamRecordException("dense_count", $"{d}, but the model has {denseCount} dense features (wrong schema?).");
        int at = HeaderBytes;
        if (value.Length < at + 4 * d + 2) throw new MalformedStreamRecordException("dense", "record truncated inside the dense values.");
        for (int i = 0; i < d; i++, at += 4)
        {
            float x = BinaryPrimitives.ReadSingleLittleEndian(value[at..]);
            if (!float.IsFinite(x)) throw new MalformedStreamRecordException($"dense[{i}]", $"{x} is not finite.");
        }
        int features = BinaryPrimitives.ReadUInt16LittleEndian(value[at..]);
        at += 2;
        if (features != featureCount) throw new MalformedStreamRecordException("feature_count", $"{features}, but the model has {featureCount} sparse features (wrong schema?).");
        for (int f = 0; f < features; f++)
        {
            if (value.Length < at + 2) throw new MalformedStreamRecordException($"sparse[{f}]", "record truncated before the id count.");
            int n = BinaryPrimitives.ReadUInt16LittleEndian(value[at..]);
            at += 2;
            if (value.Length < at + 8 * n) throw new MalformedStreamRecordException($"sparse[{f}]", $"record truncated inside its {n} ids.");
            for (int i = 0; i < n; i++, at += 8)
            {
                long id = BinaryPrimitives.ReadInt64LittleEndian(value[at..]);
                if (id < 0) throw new MalformedStreamRecordException($"sparse[{f}]", $"id {id} is negative.");
            }
        }
        if (at != value.Length) throw new MalformedStreamRecordException("value", $"{value.Length - at} trailing bytes after the last feature.");
        return recordId;
    }
}
