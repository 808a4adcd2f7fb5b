using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Synthetic;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// <c>recsys-embed datasets</c>:
/// <code>
///   datasets synth --schema criteo|avazu --rows N --seed S --out FILE [--drift RATE] [--max-cardinality C] [--threads T] [--no-auc]
///   datasets read  --format criteo|avazu|movielens|libfm --in FILE [--batch-size B] [--on-malformed fail|skip] [--movies FILE]
/// </code>
/// </summary>
public static class DatasetsCommand
{
    public static Command Create()
    {
        var command = new Command("datasets", "Generate synthetic click logs and read dataset files.");
        command.Add(CreateSynth());
        command.Add(CreateRead());
        return command;
    }

    private static Command CreateSynth()
    {
        var schema = new Option<string>("--schema") { Description = "Raw format to write: criteo (TSV) or avazu (CSV).", Required = true };
        schema.AcceptOnlyFromAmong("criteo", "avazu");
        var rows = new Option<long>("--rows") { Description = "Number of rows.", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Seed; the same seed gives the same bytes.", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--out") { Description = "Output file; FILE.meta.json is written beside it.", Required = true };
        var drift = new Option<double>("--drift") { Description = "Non-stationarity per million rows (0 = stationary).", DefaultValueFactory = _ => 0 };
        var maxCardinality = new Option<long>("--max-cardinality") { Description = "Caps every feature's cardinality (<= 2^32).", DefaultValueFactory = _ => 100_000_000 };
        var threads = new Option<int>("--threads") { Description = "Worker threads (0 = all cores); does not change the output.", DefaultValueFactory = _ => 0 };
        var noAuc = new Option<bool>("--no-auc") { Description = "Skip the exact best AUC (saves 9 bytes of memory per row)." };
        var heldOut = new Option<long>("--held-out-rows") { Description = "Also print the best AUC over only the last N rows (split them off as the held-out set)." };
        var halfCount = new Option<double>("--signal-half-count")
        {
            Description = "Planted signal shrinkage: a value expected this many times per million rows keeps half its effect's variance (0 = off).",
            DefaultValueFactory = _ => SyntheticOptions.DefaultSignalHalfCount,
        };

        var command = new Command("synth", "Write a synthetic click log with a planted model and report its best achievable AUC.")
        {
            schema, rows, seed, output, drift, maxCardinality, threads, noAuc, halfCount, heldOut,
        };
        command.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            var options = new SyntheticOptions
            {
                Schema = parse.GetValue(schema) == "avazu" ? SyntheticSchemaKind.Avazu : SyntheticSchemaKind.Criteo,
                Rows = parse.GetValue(rows),
                Seed = parse.GetValue(seed),
                Drift = parse.GetValue(drift),
                MaxCardinality = parse.GetValue(maxCardinality),
                Threads = parse.GetValue(threads),
                ComputeBestAuc = !parse.GetValue(noAuc),
                SignalHalfCount = parse.GetValue(halfCount),
                HeldOutRows = parse.GetValue(heldOut),
            };
            string path = parse.GetValue(output)!;
            SyntheticResult result;
            try
            {
                result = new SyntheticCtrGenerator(options).GenerateFile(path);
            }
            catch (ArgumentOutOfRangeException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 2;
            }
            var inv = CultureInfo.InvariantCulture;
            stdout.WriteLine(string.Create(inv,
                $"wrote {result.Rows} rows ({parse.GetValue(schema)}) to {path}: {result.Bytes / 1e6:F1} MB in {result.Elapsed.TotalSeconds:F2} s = {result.RowsPerSecond:N0} rows/s ({result.Threads} threads)"));
            stdout.WriteLine(string.Create(inv,
                $"CTR {result.Ctr:F4}, best AUC {result.BestAuc:F6}, best log loss {result.BestLogLoss:F6} (true probabilities; exact AUC with ties in {result.MetricsElapsed.TotalSeconds:F2} s)"));
            if (options.HeldOutRows > 0)
                stdout.WriteLine(string.Create(inv, $"best AUC over the last {options.HeldOutRows:N0} rows (held out): {result.BestHeldOutAuc:F6}"));
            stdout.WriteLine($"meta: {SyntheticCtrGenerator.MetaPath(path)}");
            return 0;
        });
        return command;
    }

    private static Command CreateRead()
    {
        var format = new Option<string>("--format") { Description = "criteo, avazu, movielens or libfm.", Required = true };
        format.AcceptOnlyFromAmong("criteo", "avazu", "movielens", "libfm");
        var input = new Option<string>("--in") { Description = "File to read.", Required = true };
        var batchSize = new Option<int>("--batch-size") { Description = "Samples per batch.", DefaultValueFactory = _ => 4096 };
        var onMalformed = new Option<string>("--on-malformed") { Description = "fail (stop at the first bad record) or skip (count and report).", DefaultValueFactory = _ => "fail" };
        onMalformed.AcceptOnlyFromAmong("fail", "skip");
        var movies = new Option<string?>("--movies") { Description = "MovieLens movies file for a genres feature." };

        var command = new Command("read", "Stream a dataset file through its reader and report rows, label mean, malformed records and speed.")
        {
            format, input, batchSize, onMalformed, movies,
        };
        command.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            string path = parse.GetValue(input)!;
            var options = new CtrReaderOptions { OnMalformed = parse.GetValue(onMalformed) == "skip" ? MalformedPolicy.Skip : MalformedPolicy.Fail };
            int size = parse.GetValue(batchSize);
            if (size < 1)
            {
                stderr.WriteLine($"error: --batch-size must be >= 1, got {size}");
                return 2;
            }
            try
            {
                using ICtrReader reader = parse.GetValue(format) switch
                {
                    "avazu" => new AvazuReader(path, options),
                    "movielens" => new MovieLensReader(path, new MovieLensOptions { MoviesPath = parse.GetValue(movies) }, options),
                    "libfm" => new LibFmReader(path, options: options),
                    _ => new CriteoReader(path, options),
                };
                var clock = Stopwatch.StartNew();
                long samples = 0, batches = 0, ids = 0;
                double positives = 0;
                foreach (var batch in reader.ReadBatches(size, reuseBuffers: true))
                {
                    batches++;
                    samples += batch.BatchSize;
                    ids += batch.Sparse.ValueCount;
                    foreach (float y in batch.Labels) positives += y;
                }
                clock.Stop();
                var inv = CultureInfo.InvariantCulture;
                stdout.WriteLine(string.Create(inv,
                    $"{reader.SourceName}: {samples} samples in {batches} batches, label mean {(samples > 0 ? positives / samples : double.NaN):F4}, {(samples > 0 ? (double)ids / samples : 0):F2} ids per sample"));
                stdout.WriteLine($"schema: {reader.Schema}");
                stdout.WriteLine(string.Create(inv, $"read in {clock.Elapsed.TotalSeconds:F2} s = {samples / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):N0} samples/s"));
                stdout.WriteLine(reader.Report.Summary());
                return 0;
            }
            catch (Exception e) when (e is MalformedRecordException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
