using System.Diagnostics;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Training;

namespace RecsysEmbed.CompressionBench;

/// <summary>
/// Runs one cell: builds the config from the method's solution, trains on the training file with the normal
/// <see cref="TrainingRun"/> (so samples/s is the trainer's own figure), evaluates on the held-out rows, then times
/// single-request lookups (one id for each sparse feature, batch of 1, one thread) on tables of the same plan.
/// </summary>
public sealed class CellRunner(SuiteModel model, SuiteDataset data)
{
    public CellResult Run(ICompressionMethod method, double budget, int repeat, MethodSolution solution, IProgress<TrainProgress>? progress)
    {
        ulong seed = model.Options.Seed + (ulong)repeat;
        string yaml = model.ConfigYaml($"{method.Name}-{budget:R}-r{repeat}", solution.TablesYaml, solution.MemoryBudget, seed);
        var config = ModelConfig.Parse(yaml);
        var clock = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var summary = TrainingRun.Run(config, new TrainOptions
        {
            TrainPath = data.TrainPath, EvalPath = data.EvalPath, Epochs = model.Options.Epochs, BatchSize = model.Options.BatchSize,
            Threads = model.Options.Threads,
        }, progress);
        var (p50, p99) = LookupLatency(config, model.Options.LatencyRequests, seed);
        return new CellResult
        {
            Method = method.Name, Budget = budget, Repeat = repeat, Seed = seed, Status = "ok",
            Parameters = solution.ParameterText,
            BudgetBytes = (long)Math.Floor(budget * model.FullWeightBytes),
            WeightBytes = summary.EmbeddingWeightBytes, OptimizerBytes = summary.EmbeddingOptimizerBytes, FullWeightBytes = model.FullWeightBytes,
            Auc = summary.Auc ?? double.NaN, LogLoss = summary.LogLoss ?? double.NaN,
            NormalizedEntropy = summary.NormalizedEntropy ?? double.NaN, Calibration = summary.Calibration ?? double.NaN,
            TrainSamples = summary.TrainSamples, TrainSamplesPerSecond = summary.SamplesPerSecond,
            LookupP50Microseconds = p50, LookupP99Microseconds = p99,
            WallSeconds = clock.Elapsed.TotalSeconds, CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds, Config = yaml,
        };
    }

    /// <summary>
    /// p50 and p99 (microseconds) of the pooled lookup of one request: every sparse feature with one id, batch 1, one
    /// thread, after a warm-up. Ids are uniform over each feature's ids (indexed families) or random 63-bit (hashed).
    /// The id-vocabulary rewrite of indexed families is not included (it happens before the table).
    /// </summary>
    public static (double P50, double P99) LookupLatency(ModelConfig config, int requests, ulong seed)
    {
        var plan = EmbeddingPlan.Create(config);
        using var tables = new EmbeddingCollection(plan.Build()) { Threads = 1 };
        var keys = config.SparseFeatures.Select(f => f.Name).ToArray();
        var rng = new Random((int)(seed * 7919 % int.MaxValue));
        var indexed = keys.Select(k => plan.TableOf(k).Config.NeedsFixedCardinality).ToArray();
        int warmup = Math.Min(200, requests);
        var batches = new KeyedJaggedBatch[warmup + requests];
        for (int i = 0; i < batches.Length; i++)
        {
            var values = new long[keys.Length];
            for (int f = 0; f < keys.Length; f++)
                values[f] = indexed[f] ? rng.NextInt64(config.SparseFeatures[f].Cardinality.Rows!.Value) : rng.NextInt64(long.MaxValue);
            batches[i] = new KeyedJaggedBatch(keys, 1, values, Enumerable.Range(0, keys.Length + 1).ToArray());
        }
        var output = new float[tables.Width];
        var ticks = new long[requests];
        for (int i = 0; i < batches.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            tables.Forward(batches[i], output);
            long end = Stopwatch.GetTimestamp();
            if (i >= warmup) ticks[i - warmup] = end - start;
        }
        Array.Sort(ticks);
        double Us(double q) => ticks[Math.Min(ticks.Length - 1, (int)Math.Ceiling(q * ticks.Length) - 1)] * 1e6 / Stopwatch.Frequency;
        return (Us(0.50), Us(0.99));
    }
}
