using RecsysEmbed.Core.Config;

namespace RecsysEmbed.Tests.Config;

public class ByteSizeTests
{
    [Theory]
    [InlineData("67108864", 67108864L)]
    [InlineData("64MiB", 64L << 20)]
    [InlineData("64 MiB", 64L << 20)]
    [InlineData("64mib", 64L << 20)]
    [InlineData("1.5KiB", 1536L)]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("1TiB", 1L << 40)]
    [InlineData("3KB", 3000L)]
    [InlineData("5MB", 5_000_000L)]
    [InlineData("2GB", 2_000_000_000L)]
    [InlineData("12B", 12L)]
    public void Parses(string text, long bytes)
    {
        Assert.True(ByteSize.TryParse(text, out long parsed));
        Assert.Equal(bytes, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("MiB")]
    [InlineData("64 MiBs")]
    [InlineData("-1")]
    [InlineData("1e6")]
    [InlineData("1.5")]
    [InlineData("64MB!")]
    [InlineData("99999999999TiB")]
    public void RejectsMalformed(string text) => Assert.False(ByteSize.TryParse(text, out _));

    [Theory]
    [InlineData(100L, "100 B")]
    [InlineData(1536L, "1.5 KiB")]
    [InlineData(64L << 20, "64.0 MiB")]
    public void Formats(long bytes, string text) => Assert.Equal(text, ByteSize.Format(bytes));
}
