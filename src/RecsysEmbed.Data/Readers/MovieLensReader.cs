using System.Text;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Schema;

namespace RecsysEmbed.Data.Readers;

/// <summary>Layout of a MovieLens ratings file.</summary>
public enum MovieLensFormat
{
    /// <summary>Decide from the first line: "::" = Dat, tab = UData, comma = Csv.</summary>
    Auto,

    /// <summary>ml-100k u.data: user \t item \t rating \t timestamp.</summary>
    UData,

    /// <summary>ml-1m / ml-10m ratings.dat: user::item::rating::timestamp.</summary>
    Dat,

    /// <summary>ml-20m / ml-25m / ml-latest ratings.csv: userId,movieId,rating,timestamp, with a header line.</summary>
    Csv,
}

/// <summary>MovieLens reader settings.</summary>
public sealed record MovieLensOptions
{
    public static MovieLensOptions Default { get; } = new();

    public MovieLensFormat Format { get; init; } = MovieLensFormat.Auto;

    /// <summary>A rating at or above this is a positive (label 1).</summary>
    public double PositiveRating { get; init; } = 4;

    /// <summary>Adds hour_of_day (UTC, from the timestamp) as a categorical feature.</summary>
    public bool HourOfDay { get; init; } = true;

    /// <summary>
    /// Optional movies file (u.item, movies.dat or movies.csv) for a multi-valued "genres" feature. It is small
    /// (one line per movie) and loaded whole; the ratings file is still streamed.
    /// </summary>
    public string? MoviesPath { get; init; }
}

/// <summary>
/// MovieLens ratings as CTR samples: label = rating >= <see cref="MovieLensOptions.PositiveRating"/> (default 4);
/// sparse features user, item (integer ids, hashed), optionally hour_of_day (UTC hour of the timestamp) and genres
/// (a bag, from a movies file; an item missing from it gets an empty bag). No dense features.
/// <code>
///   u.data        196	242	3	881250949
///   ratings.dat   1::1193::5::978300760
///   ratings.csv   userId,movieId,rating,timestamp
///                 1,307,3.5,1256677221
/// </code>
/// </summary>
public sealed class MovieLensReader : TextCtrReader
{
    private static readonly string[] UItemGenres =
    [
        "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
        "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ];

    private readonly DatasetSchema _schema;
    private readonly MovieLensOptions _ml;
    private readonly MovieLensFormat _format;
    private readonly Dictionary<long, string[]>? _genres;
    private readonly int _hourFeature = -1, _genreFeature = -1;
    private readonly int[] _starts = new int[4], _ends = new int[4];

    public MovieLensReader(string path, MovieLensOptions? movieLens = null, CtrReaderOptions? options = null, ReaderPosition? start = null)
        : base(path, options)
    {
        try
        {
            _ml = movieLens ?? MovieLensOptions.Default;
            var features = new List<string> { "user", "item" };
            if (_ml.HourOfDay)
            {
                _hourFeature = features.Count;
                features.Add("hour_of_day");
            }
            if (_ml.MoviesPath != null)
            {
                _genreFeature = features.Count;
                features.Add("genres");
                _genres = LoadGenres(_ml.MoviesPath);
            }
            _schema = new DatasetSchema("rating_positive", [], features);

            _format = _ml.Format;
            bool hasLine = TryReadHeaderLine(out var first);
            if (_format == MovieLensFormat.Auto && hasLine)
            {
                _format = first.IndexOf("::"u8) >= 0 ? MovieLensFormat.Dat
                    : first.IndexOf((byte)'\t') >= 0 ? MovieLensFormat.UData
                    : MovieLensFormat.Csv;
            }
            bool isHeader = hasLine && _format == MovieLensFormat.Csv && !StartsWithInteger(first);
            if (!isHeader) Rewind();
            ResumeAt(start);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public override DatasetSchema Schema => _schema;

    /// <summary>The layout in use (resolved when <see cref="MovieLensFormat.Auto"/> was asked).</summary>
    public MovieLensFormat Format => _format;

    protected override bool TryParseRecord(ReadOnlySpan<byte> line, long lineNumber, CtrBatchBuilder builder)
    {
        int n = _format switch
        {
            MovieLensFormat.Dat => Utf8Fields.Split(line, "::"u8, _starts, _ends),
            MovieLensFormat.UData => Utf8Fields.Split(line, (byte)'\t', _starts, _ends),
            _ => Utf8Fields.Split(line, (byte)',', _starts, _ends),
        };
        if (n != 4) return Reject("(record)", line, $"expected 4 fields (user, item, rating, timestamp) in {_format} layout, found {n}");

        var userField = line[_starts[0].._ends[0]];
        var itemField = line[_starts[1].._ends[1]];
        var ratingField = line[_starts[2].._ends[2]];
        var timeField = line[_starts[3].._ends[3]];
        if (!Utf8Fields.TryParseInt64(userField, out long user)) return Reject("user", userField, "not an integer");
        if (!Utf8Fields.TryParseInt64(itemField, out long item)) return Reject("item", itemField, "not an integer");
        if (!Utf8Fields.TryParseDouble(ratingField, out double rating)) return Reject("rating", ratingField, "not a number");
        if (!Utf8Fields.TryParseInt64(timeField, out long seconds)) return Reject("timestamp", timeField, "not an integer (Unix seconds)");

        builder.BeginSample(rating >= _ml.PositiveRating ? 1f : 0f, lineNumber);
        var sparse = builder.Sparse;
        sparse.AddInt64(0, user);
        sparse.AddInt64(1, item);
        if (_hourFeature >= 0) sparse.AddInt64(_hourFeature, (long)((ulong)seconds % 86400 / 3600));
        if (_genreFeature >= 0 && _genres!.TryGetValue(item, out var genres))
        {
            foreach (var g in genres) sparse.AddString(_genreFeature, g);
        }
        builder.EndSample();
        return true;
    }

    private static bool StartsWithInteger(ReadOnlySpan<byte> line)
    {
        int comma = line.IndexOf((byte)',');
        return Utf8Fields.TryParseInt64(comma < 0 ? line : line[..comma], out _);
    }

    /// <summary>item id -> genre names, from u.item (19 flag columns), movies.dat (A|B genres) or movies.csv.</summary>
    private static Dictionary<long, string[]> LoadGenres(string path)
    {
        var genres = new Dictionary<long, string[]>();
        int lineNumber = 0;
        // u.item and movies.dat are Latin-1; only ids and genre names (ASCII) are used.
        foreach (var line in File.ReadLines(path, Encoding.Latin1))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            string idText;
            string[] names;
            if (line.Contains("::", StringComparison.Ordinal))
            {
                var parts = line.Split("::");
                idText = parts[0];
                names = parts[^1].Split('|', StringSplitOptions.RemoveEmptyEntries);
            }
            else if (line.Count(ch => ch == '|') >= UItemGenres.Length + 4)
            {
                var parts = line.Split('|');
                idText = parts[0];
                var flags = parts[^UItemGenres.Length..];
                names = UItemGenres.Where((_, g) => flags[g] == "1").ToArray();
            }
            else
            {
                int firstComma = line.IndexOf(','), lastComma = line.LastIndexOf(',');
                if (firstComma < 0) throw new InvalidDataException($"{Path.GetFileName(path)} line {lineNumber}: not a u.item, movies.dat or movies.csv line: '{line}'.");
                idText = line[..firstComma];
                if (lineNumber == 1 && !long.TryParse(idText, out _)) continue; // movies.csv header
                names = line[(lastComma + 1)..].Trim().Split('|', StringSplitOptions.RemoveEmptyEntries);
            }
            if (!long.TryParse(idText, out long id))
                throw new InvalidDataException($"{Path.GetFileName(path)} line {lineNumber}: field movie id = '{idText}' is not an integer.");
            genres[id] = names;
        }
        return genres;
    }
}
