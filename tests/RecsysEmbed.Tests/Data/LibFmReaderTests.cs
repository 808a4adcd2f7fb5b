using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Data.Readers;

namespace RecsysEmbed.Tests.Data;

public class LibFmReaderTests
{
    [Fact]
    public void Read_IdxValPairs_BecomeAWeightedBag_LabelsMinusOneToZero()
    {
        using var dir = new TempDir();
        string file = dir.Write("train.libfm", ["1 3:1 17:0.5", "-1 4096:2", "0", "+1  5:1e-1\t6:-2"], crlf: true);
        using var reader = new LibFmReader(file);
        Assert.True(reader.Schema.WeightedSparse);
        Assert.Equal(["features"], reader.Schema.SparseFeatures);
        var b = BatchSnapshot.ReadAll(reader, 8)[0];
        Assert.Equal([1f, 0f, 0f, 1f], b.Labels);
        var h = new IdHasher("features");
        Assert.Equal([h.HashInt64(3), h.HashInt64(17)], b.Bag(0, 0, 4));
        Assert.Equal([1f, 0.5f], b.BagWeights(0, 0, 4));
        Assert.Equal([2f], b.BagWeights(0, 1, 4));
        Assert.Empty(b.Bag(0, 2, 4));
        Assert.Equal([0.1f, -2f], b.BagWeights(0, 3, 4));
    }

    [Fact]
    public void FieldAware_TheFieldIsIgnored_RawIndicesOnRequest()
    {
        using var dir = new TempDir();
        string file = dir.Write("train.ffm", ["1 0:3:1 1:17:0.5"]);
        var b = BatchSnapshot.ReadAll(new LibFmReader(file, new LibFmOptions { HashIndices = false }), 8)[0];
        Assert.Equal([3L, 17L], b.Bag(0, 0, 1));
        Assert.Equal([1f, 0.5f], b.BagWeights(0, 0, 1));
    }

    [Theory]
    [InlineData("2 3:1", "label", "2")]
    [InlineData("1 3", "features[0]", "3")]
    [InlineData("1 3:1 x:1", "features[1]", "x:1")]
    [InlineData("1 -3:1", "features[0]", "-3:1")]
    [InlineData("1 3:abc", "features[0]", "3:abc")]
    public void Fail_NamesTokenAndLine(string bad, string field, string value)
    {
        using var dir = new TempDir();
        string file = dir.Write("bad.libfm", ["1 1:1", bad]);
        var e = Assert.Throws<MalformedRecordException>(() => BatchSnapshot.ReadAll(new LibFmReader(file), 8));
        Assert.Equal((2L, field, value), (e.Line, e.Field, e.Value));
        Assert.Contains($"bad.libfm line 2: field {field} = '{value}'", e.Message);
    }

    [Fact]
    public void Skip_AndResume()
    {
        using var dir = new TempDir();
        var rng = new Random(5);
        var lines = Enumerable.Range(0, 40).Select(i => i % 9 == 4 ? "bad line" : $"{(rng.Next(2) == 0 ? "-1" : "1")} " + string.Join(' ', Enumerable.Range(0, rng.Next(0, 5)).Select(_ => $"{rng.Next(1000)}:{rng.Next(1, 4)}"))).ToArray();
        string file = dir.Write("s.libfm", lines);
        var options = new CtrReaderOptions { OnMalformed = MalformedPolicy.Skip };
        using var reader = new LibFmReader(file, options: options);
        var all = BatchSnapshot.ReadAll(reader, 6);
        Assert.Equal(4, reader.Report.SkippedRecords);
        Assert.Equal(36, all.Sum(b => b.Labels.Length));

        ReaderPosition checkpoint;
        using (var first = new LibFmReader(file, options: options))
        {
            var builder = first.CreateBuilder();
            first.TryReadBatch(builder, 6, out _);
            first.TryReadBatch(builder, 6, out _);
            checkpoint = first.Position;
        }
        Snapshots.AssertSame(all.Skip(2).ToList(), BatchSnapshot.ReadAll(new LibFmReader(file, options: options, start: checkpoint), 6));
    }
}
