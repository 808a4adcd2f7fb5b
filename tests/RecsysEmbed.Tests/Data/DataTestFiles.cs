using System.Text;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Readers;

namespace RecsysEmbed.Tests.Data;

/// <summary>A temporary directory of small test files, removed on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "recsys-data-tests-" + Guid.NewGuid().ToString("N"));

    /// <summary>Writes lines joined by LF or CRLF (with a final line break unless told otherwise).</summary>
    public string Write(string name, IEnumerable<string> lines, bool crlf = false, bool finalNewline = true, bool bom = false)
    {
        string eol = crlf ? "\r\n" : "\n";
        string text = string.Join(eol, lines) + (finalNewline ? eol : "");
        string file = System.IO.Path.Combine(Path, name);
        File.WriteAllText(file, text, new UTF8Encoding(bom));
        return file;
    }

    public string PathOf(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>A deep copy of a batch, comparable by value.</summary>
internal sealed record BatchSnapshot(float[] Labels, float[] Dense, long[] Positions, string[] Keys, long[] Values, int[] Offsets, float[] Weights)
{
    public static BatchSnapshot Of(CtrBatch b) => new(
        b.Labels.ToArray(), b.Dense.ToArray(), b.SourcePositions.ToArray(), b.Sparse.Keys.ToArray(),
        b.Sparse.Values.ToArray(), b.Sparse.Offsets.ToArray(), b.Sparse.Weights.ToArray());

    public static List<BatchSnapshot> ReadAll(ICtrReader reader, int batchSize) =>
        reader.ReadBatches(batchSize, reuseBuffers: true).Select(Of).ToList();

    public void AssertEqual(BatchSnapshot other)
    {
        Assert.Equal(Labels, other.Labels);
        Assert.Equal(Dense, other.Dense);
        Assert.Equal(Positions, other.Positions);
        Assert.Equal(Keys, other.Keys);
        Assert.Equal(Values, other.Values);
        Assert.Equal(Offsets, other.Offsets);
        Assert.Equal(Weights, other.Weights);
    }

    /// <summary>Ids of feature f in sample b.</summary>
    public long[] Bag(int f, int b, int batchSize)
    {
        int start = Offsets[f * batchSize + b], end = Offsets[f * batchSize + b + 1];
        return Values[start..end];
    }

    public float[] BagWeights(int f, int b, int batchSize)
    {
        int start = Offsets[f * batchSize + b], end = Offsets[f * batchSize + b + 1];
        return Weights[start..end];
    }
}

internal static class Snapshots
{
    /// <summary>Asserts two batch lists are equal batch by batch.</summary>
    public static void AssertSame(IReadOnlyList<BatchSnapshot> expected, IReadOnlyList<BatchSnapshot> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++) expected[i].AssertEqual(actual[i]);
    }
}
