using System.Text;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Schema;
using RecsysEmbed.Data.Transforms;

namespace RecsysEmbed.Tests.Data;

public class CriteoReaderTests
{
    // label, I1..I13, C1..C26
    internal static string Line(int label, long?[] dense, string?[] cats) =>
        string.Join('\t', new[] { label.ToString() }
            .Concat(dense.Select(d => d?.ToString() ?? ""))
            .Concat(cats.Select(c => c ?? "")));

    internal static string[] SampleLines(int rows, int seed = 7)
    {
        var rng = new Random(seed);
        var lines = new string[rows];
        for (int r = 0; r < rows; r++)
        {
            var dense = Enumerable.Range(0, 13).Select(d => rng.Next(5) == 0 ? (long?)null : rng.Next(-2, 500)).ToArray();
            var cats = Enumerable.Range(0, 26).Select(c => rng.Next(6) == 0 ? null : rng.Next(0, 50).ToString("x8")).ToArray();
            lines[r] = Line(rng.Next(2), dense, cats);
        }
        return lines;
    }

    [Fact]
    public void Read_ParsesLabelDenseAndSparse()
    {
        using var dir = new TempDir();
        var dense = new long?[] { 5, 0, null, 1382, -3, 9, 0, 1, 2, 3, 4, 5, 6 };
        var cats = Enumerable.Range(0, 26).Select(c => c == 2 ? null : $"{c:x8}").ToArray();
        string file = dir.Write("day.tsv", [Line(1, dense, cats), Line(0, dense, cats)]);

        using var reader = new CriteoReader(file);
        Assert.Same(DatasetSchema.Criteo, reader.Schema);
        var batches = BatchSnapshot.ReadAll(reader, 8);
        var b = Assert.Single(batches);
        Assert.Equal([1f, 0f], b.Labels);
        Assert.Equal([1L, 2L], b.Positions);
        // log(1 + max(x, 0)); missing = 0; negative clamped to 0
        Assert.Equal((float)Math.Log(6), b.Dense[0]);
        Assert.Equal(0f, b.Dense[2]);
        Assert.Equal((float)Math.Log(1383), b.Dense[3]);
        Assert.Equal(0f, b.Dense[4]);
        // C3 missing -> empty bag; others hashed from their UTF-8 bytes with the feature's salted hasher
        Assert.Empty(b.Bag(2, 0, 2));
        Assert.Equal([new IdHasher("C1").HashUtf8(Encoding.UTF8.GetBytes("00000000"))], b.Bag(0, 0, 2));
        Assert.Equal([new IdHasher("C26").HashUtf8(Encoding.UTF8.GetBytes($"{25:x8}"))], b.Bag(25, 1, 2));
        Assert.Equal(0, reader.Report.SkippedRecords);
    }

    [Fact]
    public void Read_CrlfAndLfGiveSameBatches_WithOrWithoutFinalNewlineAndBom()
    {
        using var dir = new TempDir();
        var lines = SampleLines(50);
        var lf = BatchSnapshot.ReadAll(new CriteoReader(dir.Write("lf.tsv", lines)), 16);
        var crlf = BatchSnapshot.ReadAll(new CriteoReader(dir.Write("crlf.tsv", lines, crlf: true)), 16);
        var noFinal = BatchSnapshot.ReadAll(new CriteoReader(dir.Write("nofinal.tsv", lines, crlf: true, finalNewline: false)), 16);
        var bom = BatchSnapshot.ReadAll(new CriteoReader(dir.Write("bom.tsv", lines, bom: true)), 16);
        Assert.Equal(4, lf.Count);
        Assert.Equal(2, lf[3].Labels.Length);
        Snapshots.AssertSame(lf, crlf);
        Snapshots.AssertSame(lf, noFinal);
        Snapshots.AssertSame(lf, bom);
    }

    [Fact]
    public void Read_LinesLongerThanTheBuffer_AreReassembled()
    {
        using var dir = new TempDir();
        var cats = Enumerable.Range(0, 26).Select(c => new string('a', 400) + c).ToArray();
        var lines = Enumerable.Range(0, 30).Select(i => Line(i % 2, new long?[13], cats)).ToArray();
        string file = dir.Write("long.tsv", lines, crlf: true);
        var small = BatchSnapshot.ReadAll(new CriteoReader(file, new CtrReaderOptions { BufferBytes = 4096 }), 7);
        var large = BatchSnapshot.ReadAll(new CriteoReader(file), 7);
        Snapshots.AssertSame(large, small);
        Assert.Equal(30, small.Sum(b => b.Labels.Length));
    }

    [Fact]
    public void Read_BlankLines_AreCountedNotSamples()
    {
        using var dir = new TempDir();
        var lines = SampleLines(3);
        string file = dir.Write("blank.tsv", [lines[0], "", lines[1], "", lines[2]]);
        using var reader = new CriteoReader(file);
        var b = Assert.Single(BatchSnapshot.ReadAll(reader, 10));
        Assert.Equal([1L, 3L, 5L], b.Positions);
        Assert.Equal(2, reader.Report.BlankLines);
    }

    [Theory]
    [InlineData("2", "label", "label must be 0 or 1")]
    [InlineData("x", "label", "label must be 0 or 1")]
    public void Fail_BadLabel_NamesFileLineFieldAndValue(string label, string field, string reason)
    {
        using var dir = new TempDir();
        var lines = SampleLines(4);
        lines[2] = label + lines[2][1..];
        string file = dir.Write("bad-label.tsv", lines);
        using var reader = new CriteoReader(file);
        var e = Assert.Throws<MalformedRecordException>(() => BatchSnapshot.ReadAll(reader, 2));
        Assert.Equal(3, e.Line);
        Assert.Equal(field, e.Field);
        Assert.Equal(label, e.Value);
        Assert.Contains("bad-label.tsv line 3", e.Message);
        Assert.Contains($"field {field} = '{label}'", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Fail_NonNumericInteger_NamesTheDenseField()
    {
        using var dir = new TempDir();
        var parts = Line(1, new long?[13], new string?[26]).Split('\t');
        parts[4] = "12a"; // I4
        string bad = string.Join('\t', parts);
        string file = dir.Write("bad-int.tsv", [SampleLines(1)[0], bad]);
        var e = Assert.Throws<MalformedRecordException>(() => BatchSnapshot.ReadAll(new CriteoReader(file), 4));
        Assert.Equal("I4", e.Field);
        Assert.Equal("12a", e.Value);
        Assert.Equal(2, e.Line);
        Assert.Contains("bad-int.tsv line 2: field I4 = '12a': not an integer", e.Message);
    }

    [Fact]
    public void Fail_WrongFieldCount_SaysExpectedAndFound()
    {
        using var dir = new TempDir();
        string shortLine = string.Join('\t', SampleLines(1)[0].Split('\t')[..39]);
        string file = dir.Write("short.tsv", [shortLine]);
        var e = Assert.Throws<MalformedRecordException>(() => BatchSnapshot.ReadAll(new CriteoReader(file), 4));
        Assert.Equal("(record)", e.Field);
        Assert.Contains("expected 40 tab-separated fields", e.Reason);
        Assert.Contains("found 39", e.Reason);
        Assert.Contains("short.tsv line 1", e.Message);
    }

    [Fact]
    public void Skip_CountsAndKeepsFirstExamples_AndReadsTheRest()
    {
        using var dir = new TempDir();
        var good = SampleLines(20);
        var lines = new List<string>();
        for (int i = 0; i < 20; i++)
        {
            lines.Add(good[i]);
            if (i % 3 == 0) lines.Add("7" + good[i][1..]);        // bad label
        }
        lines.Add("1\tonly\tthree");                               // wrong field count
        string file = dir.Write("mixed.tsv", lines, crlf: true);

        using var reader = new CriteoReader(file, new CtrReaderOptions { OnMalformed = MalformedPolicy.Skip, MaxMalformedExamples = 3 });
        var batches = BatchSnapshot.ReadAll(reader, 6);
        Assert.Equal(20, batches.Sum(b => b.Labels.Length));
        Assert.Equal(8, reader.Report.SkippedRecords);
        Assert.Equal(3, reader.Report.Examples.Count);
        var first = reader.Report.Examples[0];
        Assert.Equal(("mixed.tsv", 2L, "label", "7"), (first.Source, first.Line, first.Field, first.Value));
        Assert.Equal("label must be 0 or 1", first.Reason);
        Assert.Contains("skipped 8 malformed record(s)", reader.Report.Summary());
        Assert.Contains("... and 5 more", reader.Report.Summary());
        // the good rows are the same as reading a clean file
        var clean = BatchSnapshot.ReadAll(new CriteoReader(dir.Write("clean.tsv", good)), 6);
        Assert.Equal(clean.SelectMany(b => b.Labels), batches.SelectMany(b => b.Labels));
        Assert.Equal(clean.SelectMany(b => b.Values), batches.SelectMany(b => b.Values));
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    [InlineData(true, 4)]
    public void Resume_FromPosition_GivesTheSameFollowingBatches(bool crlf, int batchesBefore)
    {
        using var dir = new TempDir();
        var lines = SampleLines(70).ToList();
        lines.Insert(25, "");
        lines.Insert(40, "9\tbad");
        string file = dir.Write("resume.tsv", lines, crlf);
        var options = new CtrReaderOptions { OnMalformed = MalformedPolicy.Skip };
        var all = BatchSnapshot.ReadAll(new CriteoReader(file, options), 8);

        ReaderPosition checkpoint;
        using (var first = new CriteoReader(file, options))
        {
            var builder = first.CreateBuilder();
            for (int i = 0; i < batchesBefore; i++) Assert.True(first.TryReadBatch(builder, 8, out _));
            checkpoint = first.Position;
        }
        using var resumed = new CriteoReader(file, options, checkpoint);
        Assert.Equal(checkpoint, resumed.Position);
        var rest = BatchSnapshot.ReadAll(resumed, 8);
        Snapshots.AssertSame(all.Skip(batchesBefore).ToList(), rest);
        Assert.Equal(lines.Count, resumed.Position.LineNumber);
    }

    [Fact]
    public void DenseTransform_NoneKeepsRawValues_MissingIsZero()
    {
        using var dir = new TempDir();
        var dense = new long?[] { 5, -2, null, 0, 1, 2, 3, 4, 5, 6, 7, 8, 100000 };
        string file = dir.Write("raw.tsv", [Line(0, dense, new string?[26])]);
        var b = BatchSnapshot.ReadAll(new CriteoReader(file, new CtrReaderOptions { Dense = DenseTransform.None }), 1)[0];
        Assert.Equal(dense.Select(d => (float)(d ?? 0)).ToArray(), b.Dense);
        Assert.All(Enumerable.Range(0, 26), f => Assert.Empty(b.Bag(f, 0, 1)));
    }

    [Fact]
    public void Standardisation_FromAFirstPass_CentresAndScales()
    {
        using var dir = new TempDir();
        string file = dir.Write("std.tsv", SampleLines(300, seed: 11));
        DenseStatistics stats;
        using (var first = new CriteoReader(file)) stats = DenseStatistics.Compute(first, batchSize: 64);

        // the statistics match a naive two-pass computation over the log1p values (missing = 0)
        var raw = BatchSnapshot.ReadAll(new CriteoReader(file), 1000)[0];
        Assert.Equal(300, stats.Count);
        for (int d = 0; d < 13; d++)
        {
            var column = Enumerable.Range(0, 300).Select(r => (double)raw.Dense[r * 13 + d]).ToArray();
            double mean = column.Average();
            double std = Math.Sqrt(column.Select(x => (x - mean) * (x - mean)).Average());
            Assert.Equal(mean, stats.Mean[d], 9);
            Assert.Equal(std, stats.StdDev[d], 9);
        }

        var second = BatchSnapshot.ReadAll(new CriteoReader(file, new CtrReaderOptions { Dense = DenseTransform.Log1p.WithStandardization(stats) }), 1000)[0];
        for (int d = 0; d < 13; d++)
        {
            var column = Enumerable.Range(0, 300).Select(r => (double)second.Dense[r * 13 + d]).ToArray();
            double mean = column.Average();
            double std = Math.Sqrt(column.Select(x => (x - mean) * (x - mean)).Average());
            Assert.True(Math.Abs(mean) < 1e-5, $"I{d + 1}: mean {mean}");
            Assert.True(Math.Abs(std - 1) < 1e-4, $"I{d + 1}: std {std}");
        }
    }

    [Fact]
    public void Standardisation_WithWrongFeatureCount_IsRefused()
    {
        using var dir = new TempDir();
        string file = dir.Write("x.tsv", SampleLines(2));
        var stats = new DenseStatistics(["a"], [0.0], [1.0], 1);
        var e = Assert.Throws<ArgumentException>(() => new CriteoReader(file, new CtrReaderOptions { Dense = DenseTransform.Log1p.WithStandardization(stats) }));
        Assert.Contains("cover 1 dense features, but the schema has 13", e.Message);
    }

    [Fact]
    public void ReadBatches_WithoutReuse_ReturnsIndependentBatches()
    {
        using var dir = new TempDir();
        string file = dir.Write("x.tsv", SampleLines(10));
        using var reader = new CriteoReader(file);
        var batches = reader.ReadBatches(4).ToList();
        Assert.Equal(3, batches.Count);
        Assert.Equal(3, batches.Distinct().Count());
        Assert.Equal([1L, 2L, 3L, 4L], batches[0].SourcePositions.ToArray());
        Assert.Equal("x.tsv", batches[0].SourceName);
    }
}
