using FASTER.core;
using RecsysEmbed.Core.Export;

namespace RecsysEmbed.Serving.Store;

/// <summary>
/// Where a read decodes to: the caller's fp32 destination and version slot (pinned until the read completes, also
/// when it goes pending to disk), and the matrix's format. Meta records (catalog, offsets) are copied to Blob.
/// </summary>
internal unsafe struct RowOutput
{
    public float* Destination;
    public long* Version;
    public int Dim;
    public RowFormat Format;
    public byte[]? Blob;
}

/// <summary>
/// FASTER hooks of the row store: values are SpanBytes (i64 version | encoded row) copied in whole on upsert;
/// reads decode straight into the caller's floats, so a lookup allocates nothing.
/// </summary>
internal sealed unsafe class RowStoreFunctions : SpanByteFunctions<long, RowOutput, Empty>
{
    public override bool SingleReader(ref long key, ref SpanByte input, ref SpanByte value, ref RowOutput dst, ref ReadInfo readInfo) => Decode(ref value, ref dst);
    public override bool ConcurrentReader(ref long key, ref SpanByte input, ref SpanByte value, ref RowOutput dst, ref ReadInfo readInfo) => Decode(ref value, ref dst);

    private static bool Decode(ref SpanByte value, ref RowOutput dst)
    {
        var bytes = value.AsReadOnlySpan();
        if (dst.Destination == null)
        {
            dst.Blob = bytes.ToArray();
            return true;
        }
        *dst.Version = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(bytes);
        RowCodec.Decode(dst.Format, bytes[sizeof(long)..], new Span<float>(dst.Destination, dst.Dim));
        return true;
    }
}
