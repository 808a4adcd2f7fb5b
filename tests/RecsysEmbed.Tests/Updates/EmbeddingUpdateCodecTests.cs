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

public class VocabularyUpdateCodecTests
{
    private static readonly long[] Ids = [7, 5_000_000_000L, long.MaxValue, 0];

    [Fact]
    public void VocabularyRoundTrips()
    {
        var key = EmbeddingUpdateCodec.EncodeVocabularyKey("C1", 4096);
        var value = EmbeddingUpdateCodec.EncodeVocabularyValue(42, 1_700_000_000_123, Ids);
        Assert.Equal(EmbeddingUpdateCodec.VocabularyKind, EmbeddingUpdateCodec.KindOf(key));
        var update = EmbeddingUpdateCodec.DecodeVocabulary(key, value);
        Assert.Equal("C1", update.Feature);
        Assert.Equal(4096, update.FirstIndex);
        Assert.Equal(42, update.ModelVersion);
        Assert.Equal(1_700_000_000_123, update.SourceTimeUnixMs);
        Assert.Equal(Ids, update.Ids.ToArray());
    }

    [Fact]
    public void KindOfTellsTheThreeKindsApart()
    {
        Assert.Equal(EmbeddingUpdateCodec.RowKind, EmbeddingUpdateCodec.KindOf(EmbeddingUpdateCodec.EncodeRowKey("t", 1)));
        Assert.Equal(EmbeddingUpdateCodec.DenseKind, EmbeddingUpdateCodec.KindOf(EmbeddingUpdateCodec.DenseKey));
        Assert.Equal(EmbeddingUpdateCodec.VocabularyKind, EmbeddingUpdateCodec.KindOf(EmbeddingUpdateCodec.EncodeVocabularyKey("C1", 0)));
        // A vocabulary key is never mistaken for a row or the dense key by older readers.
        Assert.Throws<FormatException>(() => EmbeddingUpdateCodec.IsRowKey(EmbeddingUpdateCodec.EncodeVocabularyKey("C1", 0)));
    }

    [Fact]
    public void DifferentChunksHaveDifferentKeys() =>
        Assert.NotEqual(EmbeddingUpdateCodec.EncodeVocabularyKey("C1", 0), EmbeddingUpdateCodec.EncodeVocabularyKey("C1", 4096));

    public static TheoryData<string, Func<byte[], byte[]>, Func<byte[], byte[]>> Malformed => new()
    {
        { "length 51 does not match count = 4", k => k, v => v[..^1] },
        { "count = 0", k => k, v => { var c = (byte[])v.Clone(); c[2] = 0; c[3] = 0; return c[..EmbeddingUpdateCodec.ValueHeaderBytes]; } },
        { "ids[1] = -1", k => k, v => { var c = (byte[])v.Clone(); c.AsSpan(EmbeddingUpdateCodec.ValueHeaderBytes + 8, 8).Fill(0xFF); return c; } },
        { "firstIndex = -1", k => { var c = (byte[])k.Clone(); c.AsSpan(c.Length - 8).Fill(0xFF); return c; }, v => v },
        { "feature name length 200", k => { var c = (byte[])k.Clone(); c[1] = 200; return c; }, v => v },
        { "kind = 'R', expected 'V'", k => k, v => { var c = (byte[])v.Clone(); c[1] = (byte)'R'; return c; } },
        { "format = 99", k => k, v => { var c = (byte[])v.Clone(); c[0] = 99; return c; } },
        { "not a vocabulary key", k => k[..5], v => v },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedVocabularyRecordsAreRefusedNamingTheField(string expected, Func<byte[], byte[]> breakKey, Func<byte[], byte[]> breakValue)
    {
        var key = breakKey(EmbeddingUpdateCodec.EncodeVocabularyKey("C1", 8));
        var value = breakValue(EmbeddingUpdateCodec.EncodeVocabularyValue(1, 0, Ids));
        var ex = Assert.Throws<FormatException>(() => EmbeddingUpdateCodec.DecodeVocabulary(key, value));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void EncodingRefusesNegativeIdsAndEmptyRecords()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => EmbeddingUpdateCodec.EncodeVocabularyValue(1, 0, [3, -2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => EmbeddingUpdateCodec.EncodeVocabularyValue(1, 0, []));
        Assert.Throws<ArgumentOutOfRangeException>(() => EmbeddingUpdateCodec.EncodeVocabularyKey("C1", -1));
    }
}
