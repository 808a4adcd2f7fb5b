using RecsysEmbed.Data.Readers;

namespace RecsysEmbed.Training;

/// <summary>Opens a dataset file by format name; "auto" picks by file name.</summary>
public static class CtrReaders
{
    public static readonly string[] Formats = ["auto", "criteo", "avazu", "movielens", "libfm"];

    public static ICtrReader Open(string path, string format, CtrReaderOptions options, ReaderPosition? start)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"data file '{path}' does not exist.", path);
        string resolved = format == "auto" ? Detect(path) : format;
        return resolved switch
        {
            "criteo" => new CriteoReader(path, options, start),
            "avazu" => new AvazuReader(path, options, start),
            "movielens" => new MovieLensReader(path, null, options, start),
            "libfm" => new LibFmReader(path, null, options, start),
            _ => throw new ArgumentException($"--format: '{format}' is not one of {string.Join(", ", Formats)}.", nameof(format)),
        };
    }

    private static string Detect(string path)
    {
        string name = Path.GetFileName(path).ToLowerInvariant();
        if (name is "u.data" || name.EndsWith("ratings.dat", StringComparison.Ordinal)) return "movielens";
        if (name.EndsWith(".libfm", StringComparison.Ordinal) || name.EndsWith(".svm", StringComparison.Ordinal)) return "libfm";
        if (name.EndsWith(".csv", StringComparison.Ordinal)) return "avazu";
        return "criteo";
    }
}
