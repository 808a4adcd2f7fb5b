using System.Text.Json;

namespace RecsysEmbed.CompressionBench;

/// <summary>
/// The output folder of a run and what makes it resumable:
/// <code>
///   DIR/run.txt              the run's identity (options that change results, the budget policy included); a different one is refused,
///                            except more --repeats, which extends the run (repeat r always uses seed + r)
///   DIR/data/                train.tsv, eval.tsv (kept so a resumed run trains on the same rows)
///   DIR/cells/M_B_R.json     one finished cell each, written atomically; present = not recomputed
///   DIR/results.csv, summary.md, pareto.png, pareto.svg, throughput.png, report.html   rebuilt from the cells
/// </code>
/// </summary>
public sealed class RunFolder
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private RunFolder(string dir) => Dir = dir;

    public string Dir { get; }
    public string DataDir => Path.Combine(Dir, "data");
    public string CellsDir => Path.Combine(Dir, "cells");
    public string IdentityPath => Path.Combine(Dir, "run.txt");

    /// <summary>
    /// Opens DIR for a run: creates it, resumes it when it holds the same run, refuses it (naming the first
    /// difference) when it holds another run, and refuses a non-empty folder that is not a suite run.
    /// </summary>
    public static RunFolder Open(SuiteOptions options)
    {
        string dir = Path.GetFullPath(options.OutDir);
        string identity = options.Identity();
        var folder = new RunFolder(dir);
        if (File.Exists(dir)) throw new SuiteInputException("--out", $"'{options.OutDir}' is a file, not a folder");
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
        {
            if (!File.Exists(folder.IdentityPath))
                throw new SuiteInputException("--out", $"'{options.OutDir}' is not empty and holds no suite run (no run.txt); choose a new or empty folder, nothing was changed");
            string existing = WithDefaults(File.ReadAllText(folder.IdentityPath));
            // More repeats extend a run: repeat r always runs with seed + r, so the cells already there stay valid.
            if (existing != identity && !AddsRepeats(existing, identity))
            {
                var was = existing.Split('\n');
                var now = identity.Split('\n');
                string diff = now.Zip(was).Where(p => p.First != p.Second).Select(p => $"{p.Second} -> {p.First}").FirstOrDefault() ?? "(format differs)";
                throw new SuiteInputException("--out", $"'{options.OutDir}' holds a different run ({diff}); use another folder or delete it, nothing was changed");
            }
        }
        Directory.CreateDirectory(dir);
        Directory.CreateDirectory(folder.CellsDir);
        // New, or a run from before --policy or --qr-combine (same run, policy=cap, qr_combine=mult): write the full identity.
        if (!File.Exists(folder.IdentityPath) || File.ReadAllText(folder.IdentityPath) != identity) WriteAtomic(folder.IdentityPath, identity);
        return folder;
    }

    // True when the two identities differ only in the repeats line and the new one asks for more.
    private static bool AddsRepeats(string existing, string requested)
    {
        var was = existing.Split('\n');
        var now = requested.Split('\n');
        if (was.Length != now.Length) return false;
        var differing = was.Zip(now).Where(p => p.First != p.Second).ToArray();
        return differing.Length == 1 && RepeatsOf(differing[0].First) is int before && RepeatsOf(differing[0].Second) is int after && after > before;
    }

    private static int? RepeatsOf(string line) =>
        line.StartsWith(RepeatsKey, StringComparison.Ordinal) && int.TryParse(line.AsSpan(RepeatsKey.Length), out int n) ? n : null;

    private const string RepeatsKey = "repeats=";

    // Runs from before --policy wrote no policy line (they were cap runs); runs from before --qr-combine wrote no
    // qr_combine line (qr multiplied its partitions).
    private static string WithDefaults(string identity)
    {
        bool Has(string key) => identity.Split('\n').Any(l => l.StartsWith(key, StringComparison.Ordinal));
        if (!Has(SuiteOptions.PolicyKey)) identity += "\n" + SuiteOptions.PolicyKey + SuitePolicy.Cap.Name();
        if (!Has(SuiteQrCombine.Key)) identity += "\n" + SuiteQrCombine.Key + RecsysEmbed.Core.Tables.QrCombine.Multiply.Name();
        return identity;
    }

    public bool TryLoad(string method, double budget, int repeat, out CellResult? cell)
    {
        string path = Path.Combine(CellsDir, CellResult.FileName(method, budget, repeat));
        cell = File.Exists(path) ? JsonSerializer.Deserialize<CellResult>(File.ReadAllText(path), Json) : null;
        return cell is not null;
    }

    public void Save(CellResult cell) =>
        WriteAtomic(Path.Combine(CellsDir, CellResult.FileName(cell.Method, cell.Budget, cell.Repeat)), JsonSerializer.Serialize(cell, Json));

    /// <summary>Writes to a temporary file and renames it over the target, so a stopped run never leaves half a file.</summary>
    public static void WriteAtomic(string path, string text)
    {
        string temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }

    public static void WriteAtomic(string path, Action<string> write)
    {
        string temp = path + ".tmp" + Path.GetExtension(path);
        write(temp);
        File.Move(temp, path, overwrite: true);
    }
}
