using RecsysEmbed.Data.Readers;
using Xunit;

namespace RecsysEmbed.Tests.Data;

public class LineFilesTests
{
    [Theory]
    [InlineData(10, 0)]
    [InlineData(10, 3)]
    [InlineData(10, 10)]
    [InlineData(10, 12)]
    public void SplitLines_PutsTheFirstLinesInHeadAndTheRestInTail(int total, int first)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"linefiles-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var lines = Enumerable.Range(0, total).Select(i => $"line {i}\t{new string('x', i * 7)}").ToArray();
            string source = Path.Combine(dir, "all.tsv"), head = Path.Combine(dir, "head.tsv"), tail = Path.Combine(dir, "tail.tsv");
            File.WriteAllText(source, string.Join("\n", lines) + "\n");
            Assert.Equal(total, LineFiles.CountLines(source));
            LineFiles.SplitLines(source, first, head, tail);
            int cut = Math.Min(first, total);
            Assert.Equal(lines[..cut], File.ReadAllLines(head));
            Assert.Equal(lines[cut..], File.ReadAllLines(tail));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
