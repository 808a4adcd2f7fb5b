namespace RecsysEmbed.Data.Readers;

/// <summary>Whole-file line operations on text datasets, streaming in 1 MiB blocks (never the whole file in memory).</summary>
public static class LineFiles
{
    private const int BlockBytes = 1 << 20;

    /// <summary>Number of '\n' in the file (a last line without one is not counted).</summary>
    public static long CountLines(string path)
    {
        long lines = 0;
        using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BlockBytes);
        var buffer = new byte[BlockBytes];
        int n;
        while ((n = input.Read(buffer, 0, buffer.Length)) > 0) lines += buffer.AsSpan(0, n).Count((byte)'\n');
        return lines;
    }

    /// <summary>Copies the first <paramref name="firstLines"/> lines of <paramref name="source"/> to <paramref name="head"/> and the rest to <paramref name="tail"/>.</summary>
    public static void SplitLines(string source, long firstLines, string head, string tail)
    {
        using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, BlockBytes);
        using (var output = new FileStream(head, FileMode.Create, FileAccess.Write, FileShare.None, BlockBytes))
        {
            long lines = 0;
            var buffer = new byte[BlockBytes];
            while (lines < firstLines)
            {
                int n = input.Read(buffer, 0, buffer.Length);
                if (n == 0) break;
                int cut = n;
                for (int i = 0; i < n; i++)
                {
                    if (buffer[i] == (byte)'\n' && ++lines == firstLines) { cut = i + 1; break; }
                }
                output.Write(buffer, 0, cut);
                if (cut < n) input.Seek(cut - n, SeekOrigin.Current);
            }
        }
        using var rest = new FileStream(tail, FileMode.Create, FileAccess.Write, FileShare.None, BlockBytes);
        input.CopyTo(rest);
    }
}
