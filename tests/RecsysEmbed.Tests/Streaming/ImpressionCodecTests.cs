using System.Buffers.Binary;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Schema;
using RecsysEmbed.Streaming.Records;
using RecsysEmbed.Training;

namespace RecsysEmbed.Tests.Streaming;

public sealed class ImpressionCodecTests : IDisposable
{
    private readonly StreamFixture _f = new(rows: 300);

    public void Dispose() => _f.Dispose();

    private CtrBatch ReadBatch()
    {
        using var reader = CtrReaders.Open(_f.DataPath, "criteo", new CtrReaderOptions(), null);
        Assert.True(reader.TryReadBatch(reader.CreateBuilder(), 300, out var batch, null));
        return batch;
    }

    [Fact]
    public void EncodeDecode_RoundTripsLabelsDenseAndIds_SampleBySample()
    {
        var batch = ReadBatch();
        var builder = new CtrBatchBuilder(DatasetSchema.Criteo);
        var buffer = new byte[1 << 16];
        for (int i = 0; i < batch.BatchSize; i++)
        {
            int n = ImpressionCodec.Encode(batch, i, 1000 + i, buffer);
            Assert.Equal(ImpressionCodec.EncodedLength(batch, i), n);
            Assert.Equal(1000 + i, ImpressionCodec.Decode(buffer.AsSpan(0, n), 13, 26, 1 << 16, builder));
        }
        var decoded = builder.Build();
        Assert.Equal(batch.Labels.ToArray(), decoded.Labels.ToArray());
        Assert.Equal(batch.Dense.ToArray(), decoded.Dense.ToArray());
        Assert.Equal(batch.Sparse.Values.ToArray(), decoded.Sparse.Values.ToArray());
        Assert.Equal(batch.Sparse.Offsets.ToArray(), decoded.Sparse.Offsets.ToArray());
        Assert.Equal(Enumerable.Range(1000, batch.BatchSize).Select(i => (long)i), decoded.SourcePositions.ToArray());
    }

    [Theory]
    [InlineData("label")]
    [InlineData("dense_count")]
    [InlineData("feature_count")]
    [InlineData("format")]
    [InlineData("dense[0]")]
    [InlineData("truncated")]
    [InlineData("trailing")]
    [InlineData("oversized")]
    public void MalformedRecords_AreRefused_NamingTheField_AndNothingIsAdded(string fault)
    {
        var batch = ReadBatch();
        var buffer = new byte[1 << 16];
        int n = ImpressionCodec.Encode(batch, 0, 7, buffer);
        var value = buffer.AsSpan(0, n).ToArray();
        int max = 1 << 16;
        string field = fault;
        switch (fault)
        {
            case "label": BinaryPrimitives.WriteSingleLittleEndian(value.AsSpan(9), 0.5f); break;
            case "dense_count": BinaryPrimitives.WriteUInt16LittleEndian(value.AsSpan(13), 12); break;
            case "feature_count": BinaryPrimitives.WriteUInt16LittleEndian(value.AsSpan(15 + 13 * 4), 25); break;
            case "format": value[0] = 9; break;
            case "dense[0]": BinaryPrimitives.WriteSingleLittleEndian(value.AsSpan(15), float.NaN); break;
            case "truncated": value = value[..(n - 3)]; field = "sparse["; break; // the last feature with ids

            case "trailing": value = [.. value, 0]; field = "value"; break;
            case "oversized": max = n - 1; field = "value"; break;
        }
        var builder = new CtrBatchBuilder(DatasetSchema.Criteo);
        var e = Assert.Throws<MalformedStreamRecordException>(() => ImpressionCodec.Decode(value, 13, 26, max, builder));
        if (fault == "truncated") Assert.StartsWith(field, e.Field);
        else Assert.Equal(field, e.Field);
        Assert.StartsWith(e.Field + ":", e.Message);
        Assert.Contains(e.Field, e.Message);
        Assert.Equal(0, builder.SampleCount);
    }
}
