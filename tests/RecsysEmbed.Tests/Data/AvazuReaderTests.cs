using System.Text;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Data.Readers;

namespace RecsysEmbed.Tests.Data;

public class AvazuReaderTests
{
    internal const string Header =
        "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21";

    internal static string Row(string id, int click, string hour, int variant = 0) =>
        $"{id},{click},{hour},1005,{variant % 2},1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,ddd2926e,44956a24,1,2,{15706 + variant},320,50,1722,0,35,-1,79";

    internal static string[] SampleLines(int rows)
    {
        var lines = new List<string> { Header };
        for (int i = 0; i < rows; i++) lines.Add(Row((1000009418151094273UL + (ulong)i).ToString(), i % 3 == 0 ? 1 : 0, $"141021{i % 24:D2}", i));
        return lines.ToArray();
    }

    [Fact]
    public void Schema_ComesFromTheHeader_IdAndHourExcluded_TimeFeaturesAdded()
    {
        using var dir = new TempDir();
        using var reader = new AvazuReader(dir.Write("train.csv", SampleLines(1)));
        Assert.Equal("click", reader.Schema.Label);
        Assert.Empty(reader.Schema.DenseFeatures);
        Assert.Equal(23, reader.Schema.SparseCount);
        Assert.Equal("C1", reader.Schema.SparseFeatures[0]);
        Assert.Equal("C21", reader.Schema.SparseFeatures[20]);
        Assert.Equal([AvazuReader.HourOfDay, AvazuReader.DayOfWeek], reader.Schema.SparseFeatures.Skip(21));
        Assert.DoesNotContain("id", reader.Schema.SparseFeatures);
        Assert.DoesNotContain("hour", reader.Schema.SparseFeatures);
    }

    [Fact]
    public void Read_HourBecomesHourOfDayAndDayOfWeek()
    {
        using var dir = new TempDir();
        // 2014-10-21 was a Tuesday (2); 2014-10-26 a Sunday (0)
        string file = dir.Write("t.csv", [Header, Row("1", 1, "14102107"), Row("2", 0, "14102623")]);
        using var reader = new AvazuReader(file);
        var b = BatchSnapshot.ReadAll(reader, 4)[0];
        Assert.Equal([1f, 0f], b.Labels);
        Assert.Equal([2L, 3L], b.Positions);
        var hod = new IdHasher(AvazuReader.HourOfDay);
        var dow = new IdHasher(AvazuReader.DayOfWeek);
        Assert.Equal([hod.HashInt64(7)], b.Bag(21, 0, 2));
        Assert.Equal([dow.HashInt64(2)], b.Bag(22, 0, 2));
        Assert.Equal([hod.HashInt64(23)], b.Bag(21, 1, 2));
        Assert.Equal([dow.HashInt64(0)], b.Bag(22, 1, 2));
        Assert.Equal([new IdHasher("site_id").HashUtf8(Encoding.UTF8.GetBytes("1fbe01fe"))], b.Bag(2, 0, 2));
    }

    [Fact]
    public void Read_CrlfAndLf_Agree_AndEmptyFieldIsAnEmptyBag()
    {
        using var dir = new TempDir();
        var lines = SampleLines(40);
        lines[5] = lines[5].Replace(",1fbe01fe,", ",,");
        var lf = BatchSnapshot.ReadAll(new AvazuReader(dir.Write("lf.csv", lines)), 16);
        var crlf = BatchSnapshot.ReadAll(new AvazuReader(dir.Write("crlf.csv", lines, crlf: true)), 16);
        Snapshots.AssertSame(lf, crlf);
        Assert.Empty(lf[0].Bag(2, 4, 16)); // lines[5] is line 6 = data row 5 = sample 4
    }

    [Theory]
    [InlineData("14132100", "hour")]
    [InlineData("1410210", "hour")]
    [InlineData("14102124", "hour")]
    [InlineData("14023100", "hour")]
    public void Fail_BadHour_NamesTheField(string hour, string field)
    {
        using var dir = new TempDir();
        string file = dir.Write("h.csv", [Header, Row("1", 0, "14102100"), Row("2", 0, hour)]);
        var e = Assert.Throws<MalformedRecordException>(() => BatchSnapshot.ReadAll(new AvazuReader(file), 4));
        Assert.Equal((3L, field, hour), (e.Line, e.Field, e.Value));
        Assert.Contains($"h.csv line 3: field hour = '{hour}'", e.Message);
    }

    [Fact]
    public void Skip_BadClickAndFieldCount_AreCountedWithExamples()
    {
        using var dir = new TempDir();
        var lines = SampleLines(10).ToList();
        lines.Insert(3, Row("x", 2, "14102100"));
        lines.Insert(6, "1,0,14102100,1005");
        using var reader = new AvazuReader(dir.Write("s.csv", lines), new CtrReaderOptions { OnMalformed = MalformedPolicy.Skip });
        Assert.Equal(10, BatchSnapshot.ReadAll(reader, 4).Sum(b => b.Labels.Length));
        Assert.Equal(2, reader.Report.SkippedRecords);
        Assert.Equal((4L, "click", "2"), (reader.Report.Examples[0].Line, reader.Report.Examples[0].Field, reader.Report.Examples[0].Value));
        Assert.Equal(7L, reader.Report.Examples[1].Line);
        Assert.Contains("expected 24 comma-separated fields", reader.Report.Examples[1].Reason);
    }

    [Fact]
    public void Resume_AfterTheHeader_GivesTheSameFollowingBatches()
    {
        using var dir = new TempDir();
        string file = dir.Write("r.csv", SampleLines(50), crlf: true);
        var all = BatchSnapshot.ReadAll(new AvazuReader(file), 7);
        ReaderPosition checkpoint;
        using (var reader = new AvazuReader(file))
        {
            Assert.Equal(1, reader.Position.LineNumber); // the header
            var builder = reader.CreateBuilder();
            for (int i = 0; i < 3; i++) reader.TryReadBatch(builder, 7, out _);
            checkpoint = reader.Position;
        }
        Snapshots.AssertSame(all.Skip(3).ToList(), BatchSnapshot.ReadAll(new AvazuReader(file, start: checkpoint), 7));
        // resuming "from the start" reads everything after the header
        Snapshots.AssertSame(all, BatchSnapshot.ReadAll(new AvazuReader(file, start: ReaderPosition.Start), 7));
    }

    [Fact]
    public void Header_WithoutClick_IsRefused()
    {
        using var dir = new TempDir();
        string file = dir.Write("test.csv", ["id,hour,C1", "1,14102100,1005"]);
        var e = Assert.Throws<InvalidDataException>(() => new AvazuReader(file));
        Assert.Contains("needs 'click' and 'hour'", e.Message);
    }
}
