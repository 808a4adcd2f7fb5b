using RecsysEmbed.Core.Updates;
using Xunit;

namespace RecsysEmbed.Tests.Updates;

public class EmbeddingUpdateCodecTests
{
    [Theory]
    [InlineData("C1", 0L, 1)]
    [InlineData("unified", 123_456_789_012L, 16)]
    [InlineData("täble", 7L, 128)]
    public void RowRoundTrips(string table, long row, int dim)
    {
        var rng = new Random(dim);
        var values = Enumerable.Range(0, dim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var key = EmbeddingUpdateCodec.EncodeRowKey(table, row);
        var value = EmbeddingUpdateCodec.EncodeRowValue(42, 1_700_000_000_123, values);
        Assert.True(EmbeddingUpdateCodec.IsRowKey(key));
        var update = EmbeddingUpdateCodec.DecodeRow(key, value);
        Assert.Equal(table, update.Table);
        Assert.Equal(row, update.Row);
        Assert.Equal(42, update.ModelVersion);
        Assert.Equal(1_700_000_000_123, update.SourceTimeUnixMs);
        Assert.Equal(values, update.Values.ToArray());
    }

    [Fact]
    public void DenseRoundTrips()
    {
        byte[] payload = [1, 2, 3, 250];
        var value = EmbeddingUpdateCodec.EncodeDenseValue(9, 5, payload);
        Assert.False(EmbeddingUpdateCodec.IsRowKey(EmbeddingUpdateCodec.DenseKey));
        var dense = EmbeddingUpdateCodec.DecodeDense(value);
        Assert.Equal(9, dense.ModelVersion);
        Assert.Equal(payload, dense.Payload.ToArray());
    }

    [Fact]
    public void SameRowSameKeyDifferentRowsDifferentKeys()
    {
        Assert.Equal(EmbeddingUpdateCodec.EncodeRowKey("C1", 5), EmbeddingUpdateCodec.EncodeRowKey("C1", 5));
        Assert.NotEqual(EmbeddingUpdateCodec.EncodeRowKey("C1", 5), EmbeddingUpdateCodec.EncodeRowKey("C1", 6));
        Assert.NotEqual(EmbeddingUpdateCodec.EncodeRowKey("C1", 5), EmbeddingUpdateCodec.EncodeRowKey("C2", 5));
    }

    [Fact]
    public void TruncatedValueIsRefusedNamingLength()
    {
        var key = EmbeddingUpdateCodec.EncodeRowKey("C1", 1);
        var value = EmbeddingUpdateCodec.EncodeRowValue(1, 0, [1f, 2f, 3f]);
        var ex = Assert.Throws<FormatException>(() => EmbeddingUpdateCodec.DecodeRow(key, value.AsSpan(0, value.Length - 1)));
        Assert.Contains("dim = 3", ex.Message);
    }

    [Fact]
    public void NonFiniteValueIsRefused()
    {
        var key = EmbeddingUpdateCodec.EncodeRowKey("C1", 1);
        var value = EmbeddingUpdateCodec.EncodeRowValue(1, 0, [1f, float.NaN]);
        var ex = Assert.Throws<FormatException>(() => EmbeddingUpdateCodec.DecodeRow(key, value));
        Assert.Contains("values[1]", ex.Message);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { (byte)'X', 1 })]
    public void UnknownKeyKindIsRefused(byte[] key) =>
        Assert.Throws<FormatException>(() => EmbeddingUpdateCodec.IsRowKey(key));

    [Fact]
    public void WrongFormatVersionIsRefused()
    {
        var value = EmbeddingUpdateCodec.EncodeRowValue(1, 0, [1f]);
        value[0] = 99;
        var ex = Assert.Throws<FormatException>(() => EmbeddingUpdateCodec.DecodeRow(EmbeddingUpdateCodec.EncodeRowKey("t", 0), value));
        Assert.Contains("format = 99", ex.Message);
    }
}
