using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Synthetic;
using RecsysEmbed.Training;

namespace RecsysEmbed.CompressionBench;

/// <summary>A sparse feature of the suite's data and its number of distinct ids (train and held-out rows together).</summary>
public sealed record SuiteFeature(string Name, long Cardinality);

/// <summary>
/// The data of a run: a training file, a held-out file (the rows after the training rows), the feature schema and
/// each feature's distinct-id count, which sizes the full tables and thus the budgets. Kept in DIR/data so a resumed
/// run reuses it.
/// </summary>
public sealed record SuiteDataset(string TrainPath, string EvalPath, IReadOnlyList<string> DenseFeatures, IReadOnlyList<SuiteFeature> Sparse,
                                  long TrainRows, long EvalRows, double? BestAuc)
{
    public long FullRows => Sparse.Sum(f => f.Cardinality);

    public static SuiteDataset Prepare(SuiteOptions options, string dataDir, TextWriter log)
    {
        Directory.CreateDirectory(dataDir);
        string train = Path.Combine(dataDir, "train.tsv"), eval = Path.Combine(dataDir, "eval.tsv");
        string meta = Path.Combine(dataDir, "dataset.txt");
        double? bestAuc = null;
        if (!File.Exists(meta))
        {
            string all = Path.Combine(dataDir, "all.tsv");
            long trainRows;
            if (options.SynthRows is { } rows)
            {
                long evalRows = Math.Max(1, (long)Math.Round(rows * options.EvalFraction / (1 - options.EvalFraction)));
                log.WriteLine($"generating {rows + evalRows:N0} synthetic Criteo-schema rows (seed {options.Seed}) ...");
                var result = new SyntheticCtrGenerator(new SyntheticOptions
                    {
                        Schema = SyntheticSchemaKind.Criteo, Rows = rows + evalRows, Seed = options.Seed, Threads = options.Threads, HeldOutRows = evalRows,
                    })
                    .GenerateFile(all);
                // The cells are scored on the held-out tail, so the best achievable is reported over the same rows.
                bestAuc = result.BestHeldOutAuc;
                log.WriteLine($"  CTR {result.Ctr:F4}; best achievable AUC {result.BestHeldOutAuc:F4} on the held-out rows ({result.BestAuc:F4} on all)");
                trainRows = rows;
            }
            else
            {
                File.Copy(options.Data, all, overwrite: true);
                long lines = LineFiles.CountLines(all);
                trainRows = Math.Max(1, (long)Math.Round(lines * (1 - options.EvalFraction)));
            }
            LineFiles.SplitLines(all, trainRows, train, eval);
            File.Delete(all);
        }
        else
        {
            string line = File.ReadAllLines(meta).FirstOrDefault(l => l.StartsWith("best_auc=", StringComparison.Ordinal)) ?? "";
            if (double.TryParse(line["best_auc=".Length..], System.Globalization.CultureInfo.InvariantCulture, out double b)) bestAuc = b;
        }
        (IReadOnlyList<string>, IReadOnlyList<SuiteFeature>, long, long) described;
        try
        {
            described = Describe(train, eval);
        }
        catch (MalformedRecordException e)
        {
            throw new SuiteInputException("--data", $"{e.Message} (data/train.tsv and data/eval.tsv are the head and the held-out tail of '{options.Data}')");
        }
        // Written last: a folder whose data failed to read is prepared again on the next run.
        if (!File.Exists(meta))
            File.WriteAllText(meta, $"best_auc={(bestAuc is { } best ? best.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "")}\n");
        var (dense, sparse, trainCount, evalCount) = described;
        return new SuiteDataset(train, eval, dense, sparse, trainCount, evalCount, bestAuc);
    }

    // Distinct ids per feature over both files, streaming; the ids are the readers' salted hashes.
    private static (IReadOnlyList<string>, IReadOnlyList<SuiteFeature>, long, long) Describe(string train, string eval)
    {
        HashSet<long>[]? distinct = null;
        IReadOnlyList<string> dense = [], sparse = [];
        var counts = new long[2];
        string[] files = [train, eval];
        for (int file = 0; file < 2; file++)
        {
            using var reader = CtrReaders.Open(files[file], "auto", new CtrReaderOptions(), null);
            dense = reader.Schema.DenseFeatures;
            sparse = reader.Schema.SparseFeatures;
            distinct ??= sparse.Select(_ => new HashSet<long>()).ToArray();
            var builder = reader.CreateBuilder();
            RecsysEmbed.Data.Batching.CtrBatch? batch = null;
            while (reader.TryReadBatch(builder, 8192, out batch, batch))
            {
                counts[file] += batch.BatchSize;
                for (int f = 0; f < sparse.Count; f++)
                    foreach (long id in batch.Sparse.Feature(f).Ids) distinct[f].Add(id);
            }
        }
        return (dense, sparse.Select((n, f) => new SuiteFeature(n, Math.Max(1, distinct![f].Count))).ToArray(), counts[0], counts[1]);
    }
}
