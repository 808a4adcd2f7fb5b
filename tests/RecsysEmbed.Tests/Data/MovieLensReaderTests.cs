using System.Text;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Data.Readers;

namespace RecsysEmbed.Tests.Data;

public class MovieLensReaderTests
{
    [Fact]
    public void UData_LabelIsRatingAtLeastFour_UserItemAndHourFeatures()
    {
        using var dir = new TempDir();
        // 881250949 s = 15:42:29 UTC
        string file = dir.Write("u.data", ["196\t242\t3\t881250949", "186\t302\t4\t891717742", "22\t377\t5\t878887116"]);
        using var reader = new MovieLensReader(file);
        Assert.Equal(MovieLensFormat.UData, reader.Format);
        Assert.Equal(["user", "item", "hour_of_day"], reader.Schema.SparseFeatures);
        Assert.Empty(reader.Schema.DenseFeatures);
        var b = BatchSnapshot.ReadAll(reader, 10)[0];
        Assert.Equal([0f, 1f, 1f], b.Labels);
        Assert.Equal([new IdHasher("user").HashInt64(196)], b.Bag(0, 0, 3));
        Assert.Equal([new IdHasher("item").HashInt64(242)], b.Bag(1, 0, 3));
        Assert.Equal([new IdHasher("hour_of_day").HashInt64(881250949 % 86400 / 3600)], b.Bag(2, 0, 3));
        Assert.Equal(15, 881250949 % 86400 / 3600);
    }

    [Fact]
    public void AllThreeLayouts_GiveTheSameSamples()
    {
        using var dir = new TempDir();
        var rows = new[] { (1, 1193, 5.0, 978300760L), (1, 661, 3.0, 978302109L), (2, 3068, 4.0, 978299000L) };
        var udata = BatchSnapshot.ReadAll(new MovieLensReader(dir.Write("u.data", rows.Select(r => $"{r.Item1}\t{r.Item2}\t{r.Item3}\t{r.Item4}"))), 8);
        var dat = BatchSnapshot.ReadAll(new MovieLensReader(dir.Write("ratings.dat", rows.Select(r => $"{r.Item1}::{r.Item2}::{r.Item3}::{r.Item4}"), crlf: true)), 8);
        var csvReader = new MovieLensReader(dir.Write("ratings.csv", rows.Select(r => $"{r.Item1},{r.Item2},{r.Item3:F1},{r.Item4}").Prepend("userId,movieId,rating,timestamp")));
        Assert.Equal(MovieLensFormat.Csv, csvReader.Format);
        var csv = BatchSnapshot.ReadAll(csvReader, 8);
        Assert.Equal(udata[0].Labels, dat[0].Labels);
        Assert.Equal(udata[0].Values, dat[0].Values);
        Assert.Equal(udata[0].Values, csv[0].Values);
        Assert.Equal([1L, 2L, 3L], dat[0].Positions);
        Assert.Equal([2L, 3L, 4L], csv[0].Positions); // line 1 is the header
    }

    [Fact]
    public void Genres_FromMoviesDat_AreAMultiValuedBag()
    {
        using var dir = new TempDir();
        string movies = dir.Write("movies.dat", ["1::Toy Story (1995)::Animation|Children's|Comedy", "2::Jumanji (1995)::Adventure"]);
        string ratings = dir.Write("ratings.dat", ["1::1::5::978300760", "1::2::2::978300760", "1::3::4::978300760"]);
        using var reader = new MovieLensReader(ratings, new MovieLensOptions { MoviesPath = movies, HourOfDay = false });
        Assert.Equal(["user", "item", "genres"], reader.Schema.SparseFeatures);
        var b = BatchSnapshot.ReadAll(reader, 8)[0];
        var g = new IdHasher("genres");
        Assert.Equal(new[] { "Animation", "Children's", "Comedy" }.Select(x => g.HashString(x)), b.Bag(2, 0, 3));
        Assert.Equal([g.HashString("Adventure")], b.Bag(2, 1, 3));
        Assert.Empty(b.Bag(2, 2, 3)); // movie 3 is not in the movies file
    }

    [Fact]
    public void Genres_FromUItem_UseTheNineteenFlags()
    {
        using var dir = new TempDir();
        string flags = "0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0";
        string movies = dir.Write("u.item", [$"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|{flags}"]);
        string ratings = dir.Write("u.data", ["5\t1\t4\t881250949"]);
        using var reader = new MovieLensReader(ratings, new MovieLensOptions { MoviesPath = movies });
        var b = BatchSnapshot.ReadAll(reader, 8)[0];
        var g = new IdHasher("genres");
        Assert.Equal(new[] { "Animation", "Children's", "Comedy" }.Select(x => g.HashString(x)), b.Bag(3, 0, 1));
    }

    [Fact]
    public void Malformed_FailAndSkip()
    {
        using var dir = new TempDir();
        string file = dir.Write("u.data", ["1\t2\t4\t100", "1\tabc\t4\t100", "1\t2\tfive\t100", "3\t4\t1\t100"]);
        var e = Assert.Throws<MalformedRecordException>(() => BatchSnapshot.ReadAll(new MovieLensReader(file), 8));
        Assert.Equal((2L, "item", "abc"), (e.Line, e.Field, e.Value));
        Assert.Contains("u.data line 2: field item = 'abc'", e.Message);

        using var skipping = new MovieLensReader(file, options: new CtrReaderOptions { OnMalformed = MalformedPolicy.Skip });
        Assert.Equal(2, BatchSnapshot.ReadAll(skipping, 8).Sum(b => b.Labels.Length));
        Assert.Equal(2, skipping.Report.SkippedRecords);
        Assert.Equal("rating", skipping.Report.Examples[1].Field);
    }

    [Fact]
    public void Resume_GivesTheSameFollowingBatches()
    {
        using var dir = new TempDir();
        var rng = new Random(3);
        string file = dir.Write("ratings.csv", Enumerable.Range(0, 45).Select(_ => $"{rng.Next(100)},{rng.Next(500)},{rng.Next(1, 11) / 2.0},{rng.Next(1_000_000_000)}").Prepend("userId,movieId,rating,timestamp"), crlf: true);
        var all = BatchSnapshot.ReadAll(new MovieLensReader(file), 10);
        ReaderPosition checkpoint;
        using (var reader = new MovieLensReader(file))
        {
            reader.TryReadBatch(reader.CreateBuilder(), 10, out _);
            checkpoint = reader.Position;
        }
        Snapshots.AssertSame(all.Skip(1).ToList(), BatchSnapshot.ReadAll(new MovieLensReader(file, start: checkpoint), 10));
    }
}
