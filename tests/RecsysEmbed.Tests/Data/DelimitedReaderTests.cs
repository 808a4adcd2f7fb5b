using System.Text;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Schema;
using RecsysEmbed.Data.Transforms;

namespace RecsysEmbed.Tests.Data;

public class DelimitedReaderTests
{
    private static readonly TabularSchema ByName = new()
    {
        Label = "clicked",
        Dense = ["price", "age"],
        Sparse = ["user", ColumnRef.ByName("tags", "tag")],
        MultiValueSeparator = '|',
    };

    private static long H(string feature, string raw) => new IdHasher(feature).HashUtf8(Encoding.UTF8.GetBytes(raw));

    [Fact]
    public void Csv_WithHeader_ColumnsByName_QuotesAndMultiValues()
    {
        using var dir = new TempDir();
        string file = dir.Write("user.csv",
        [
            "user,ignored,clicked,price,age,tags",
            "u1,x,1,12.5,30,\"sports|news\"",
            "\"u,2\",y,0,,41,",
            "\"say \"\"hi\"\"\",z,1,3e2,-1,a|",
        ], crlf: true);
        using var reader = new DelimitedReader(file, ByName, new CtrReaderOptions { Dense = DenseTransform.None });
        Assert.Equal(["price", "age"], reader.Schema.DenseFeatures);
        Assert.Equal(["user", "tag"], reader.Schema.SparseFeatures);
        var b = BatchSnapshot.ReadAll(reader, 8)[0];
        Assert.Equal([1f, 0f, 1f], b.Labels);
        Assert.Equal([12.5f, 30f, 0f, 41f, 300f, -1f], b.Dense);
        Assert.Equal([H("user", "u1")], b.Bag(0, 0, 3));
        Assert.Equal([H("user", "u,2")], b.Bag(0, 1, 3));
        Assert.Equal([H("user", "say \"hi\"")], b.Bag(0, 2, 3));
        Assert.Equal([H("tag", "sports"), H("tag", "news")], b.Bag(1, 0, 3));
        Assert.Empty(b.Bag(1, 1, 3));
        Assert.Equal([H("tag", "a")], b.Bag(1, 2, 3));
    }

    [Fact]
    public void Tsv_WithoutHeader_ColumnsByIndex_ThresholdLabel()
    {
        using var dir = new TempDir();
        string file = dir.Write("r.tsv", ["7\t42\t4.5\t100", "8\t43\t2\t0", "9\t44\t4\t-5"]);
        var schema = new TabularSchema
        {
            Delimiter = '\t', HasHeader = false, Label = 2, Dense = [ColumnRef.ByIndex(3, "count")],
            Sparse = [ColumnRef.ByIndex(0, "user"), ColumnRef.ByIndex(1, "item")], PositiveThreshold = 4,
        };
        using var reader = new DelimitedReader(file, schema);
        var b = BatchSnapshot.ReadAll(reader, 8)[0];
        Assert.Equal([1f, 0f, 1f], b.Labels);
        Assert.Equal([(float)Math.Log(101), 0f, 0f], b.Dense); // default log1p, negatives clamped to 0
        Assert.Equal([H("item", "43")], b.Bag(1, 1, 3));
    }

    [Theory]
    [InlineData("u1,x,1,abc,3,t", "price", "abc", "not a finite number")]
    [InlineData("u1,x,2,1,3,t", "clicked", "2", "label must be 0 or 1")]
    [InlineData("u1,x,1,1,3", "(record)", "u1,x,1,1,3", "expected 6 (as the header) fields")]
    [InlineData("u1,x,1,1,3,\"open", "(record)", "u1,x,1,1,3,\"open", "unterminated quoted field")]
    [InlineData("u1,x,1,1,3,\"a\"b", "(record)", "u1,x,1,1,3,\"a\"b", "text after the closing quote")]
    public void Fail_NamesFieldAndValue(string bad, string field, string value, string reason)
    {
        using var dir = new TempDir();
        string file = dir.Write("bad.csv", ["user,ignored,clicked,price,age,tags", "u0,x,0,1,2,t", bad]);
        var e = Assert.Throws<MalformedRecordException>(() => BatchSnapshot.ReadAll(new DelimitedReader(file, ByName), 8));
        Assert.Equal((3L, field, value), (e.Line, e.Field, e.Value));
        Assert.Contains(reason, e.Reason);
        Assert.Contains($"bad.csv line 3: field {field} = '{value}'", e.Message);
    }

    [Fact]
    public void Skip_CountsAndResumeAgrees()
    {
        using var dir = new TempDir();
        var rng = new Random(9);
        var lines = new List<string> { "user,ignored,clicked,price,age,tags" };
        for (int i = 0; i < 60; i++) lines.Add(i % 11 == 5 ? "broken" : $"u{rng.Next(20)},x,{rng.Next(2)},{rng.NextDouble() * 100:F3},{rng.Next(90)},t{rng.Next(5)}|t{rng.Next(5)}");
        string file = dir.Write("s.csv", lines);
        var options = new CtrReaderOptions { OnMalformed = MalformedPolicy.Skip };
        using var reader = new DelimitedReader(file, ByName, options);
        var all = BatchSnapshot.ReadAll(reader, 9);
        Assert.Equal(5, reader.Report.SkippedRecords);
        Assert.Equal(55, all.Sum(b => b.Labels.Length));

        ReaderPosition checkpoint;
        using (var first = new DelimitedReader(file, ByName, options))
        {
            var builder = first.CreateBuilder();
            for (int i = 0; i < 4; i++) first.TryReadBatch(builder, 9, out _);
            checkpoint = first.Position;
        }
        Snapshots.AssertSame(all.Skip(4).ToList(), BatchSnapshot.ReadAll(new DelimitedReader(file, ByName, options, checkpoint), 9));
    }

    [Fact]
    public void Schema_Errors_AreReportedAtOpen()
    {
        using var dir = new TempDir();
        string file = dir.Write("h.csv", ["a,b", "1,2"]);
        var missing = Assert.Throws<InvalidDataException>(() => new DelimitedReader(file, new TabularSchema { Label = "a", Sparse = ["zzz"] }));
        Assert.Contains("column 'zzz' is not in the header [a, b]", missing.Message);
        var noHeader = Assert.Throws<ArgumentException>(() => new DelimitedReader(file, new TabularSchema { HasHeader = false, Label = "a" }));
        Assert.Contains("no header", noHeader.Message);
        var duplicate = Assert.Throws<ArgumentException>(() => new DelimitedReader(file, new TabularSchema { Label = "a", Dense = ["b"], Sparse = ["b"] }));
        Assert.Contains("appears twice", duplicate.Message);
    }
}
