using RecsysEmbed.Core.Export;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Export;

/// <summary>Row-at-a-time encoding decodes to exactly what the whole-matrix export gives.</summary>
public class RowCodecTests
{
    [Theory]
    [InlineData(RowFormat.Fp32)]
    [InlineData(RowFormat.Fp16)]
    [InlineData(RowFormat.Int8)]
    public void Row_codec_matches_the_matrix_export(RowFormat format)
    {
        using var m = new EmbeddingMatrix("m", 9, 13, SparseOptimizerSettings.Sgd(0.1f));
        m.InitUniform(0.7f, 3);
        m.Row(4).Fill(0.25f); // a constant row: int8's scale falls back to 1
        var (half, _) = RowExport.ToFp16(m);
        var (int8, _) = RowExport.ToInt8RowWise(m);
        var encoded = new byte[RowCodec.EncodedBytes(format, m.Dim)];
        var decoded = new float[m.Dim];
        var expected = new float[m.Dim];
        for (long r = 0; r < m.Rows; r++)
        {
            RowCodec.Encode(format, m.Row(r), encoded);
            RowCodec.Decode(format, encoded, decoded);
            switch (format)
            {
                case RowFormat.Fp32: m.Row(r).CopyTo(expected); break;
                case RowFormat.Fp16: for (int d = 0; d < m.Dim; d++) expected[d] = (float)half[r * m.Dim + d]; break;
                default: int8.DequantizeRow(r, expected); break;
            }
            Assert.Equal(expected, decoded);
        }
    }

    [Fact]
    public void Unknown_format_name_is_refused_by_name()
    {
        var e = Assert.Throws<ArgumentException>(() => RowCodec.Parse("bf16"));
        Assert.Contains("bf16", e.Message);
    }
}
