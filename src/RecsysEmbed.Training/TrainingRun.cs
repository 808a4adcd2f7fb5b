using System.Diagnostics;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Transforms;
using RecsysEmbed.Training.Checkpoints;
using RecsysEmbed.Training.Metrics;
using RecsysEmbed.Training.Models;
using TorchSharp;

namespace RecsysEmbed.Training;

/// <summary>Options of one `train` run; null fields fall back to the config's `training:` section.</summary>
public sealed record TrainOptions
{
    public required string TrainPath { get; init; }
    public string? EvalPath { get; init; }
    /// <summary>Write each held-out row's predicted click probability here, one per line in file order (needs <see cref="EvalPath"/>).</summary>
    public string? PredictionsPath { get; init; }
    public int? Epochs { get; init; }
    public int? BatchSize { get; init; }
    public string Format { get; init; } = "auto";
    public MalformedPolicy OnMalformed { get; init; } = MalformedPolicy.Fail;
    /// <summary>Standardise dense features with the mean and deviation of a first pass over the training file.</summary>
    public bool Standardize { get; init; }
    /// <summary>Threads for torch and the engine's kernels.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    public string? CheckpointDir { get; init; }
    /// <summary>Resume from the newest good checkpoint in this directory.</summary>
    public string? ResumeDir { get; init; }
    /// <summary>Checkpoint every N batches (0: only at the end).</summary>
    public int CheckpointEveryBatches { get; init; }
    /// <summary>Stop after this many training batches in total (tests, smoke runs); null: no limit.</summary>
    public long? MaxBatches { get; init; }
}

/// <summary>What a run reports: quality, size and speed.</summary>
public sealed record TrainSummary
{
    public required string Model { get; init; }
    public required string TrainPath { get; init; }
    public string? EvalPath { get; init; }
    public long TrainSamples { get; init; }
    public long Batches { get; init; }
    public int Epochs { get; init; }
    /// <summary>Progressive validation over training (each batch scored before it is trained on).</summary>
    public double ProgressiveLogLoss { get; init; }
    public double ProgressiveAuc { get; init; }
    /// <summary>Mean pre-update prediction over observed CTR across every training batch (progressive validation).</summary>
    public double ProgressiveCalibration { get; init; }
    public long EvalSamples { get; init; }
    public double? Auc { get; init; }
    public double? LogLoss { get; init; }
    public double? NormalizedEntropy { get; init; }
    public double? Calibration { get; init; }
    public long EmbeddingParameters { get; init; }
    public long EmbeddingWeightBytes { get; init; }
    public long EmbeddingOptimizerBytes { get; init; }
    public long FullTableWeightBytes { get; init; }
    public double CompressionRatio { get; init; }
    public long DenseParameters { get; init; }
    public double SamplesPerSecond { get; init; }
    public double WallSeconds { get; init; }
    public long MalformedSkipped { get; init; }
    /// <summary>The first few skipped records: file, line, field, value, reason.</summary>
    public IReadOnlyList<string> MalformedExamples { get; init; } = [];
    public long VocabularyOverflow { get; init; }
    public long? ResumedFromStep { get; init; }
    public string? LastCheckpoint { get; init; }
}

/// <summary>Progress of a run, reported after each batch.</summary>
public readonly record struct TrainProgress(int Epoch, long Samples, long Batches, double SamplesPerSecond, double LogLoss, double WindowAuc);

/// <summary>
/// The offline training loop: config → tables + dense model → batches from a reader → progressive metrics →
/// checkpoints → held-out evaluation. Usable one batch at a time through <see cref="CtrTrainer"/>; this class only
/// strings the parts together.
/// </summary>
public static class TrainingRun
{
    /// <param name="buildTrainer">Makes the trainer from the config, its plan and the thread count; null: <see cref="BuildTrainer"/> (flat).</param>
    public static TrainSummary Run(ModelConfig config, TrainOptions options, IProgress<TrainProgress>? progress = null, CancellationToken cancel = default,
                                   Func<ModelConfig, EmbeddingPlan, int, ICtrTrainer>? buildTrainer = null)
    {
        int epochs = options.Epochs ?? config.Training.Epochs;
        int batchSize = options.BatchSize ?? config.Training.BatchSize;
        if (epochs < 1) throw new ArgumentOutOfRangeException(nameof(options), epochs, $"--epochs: {epochs} must be >= 1.");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), batchSize, $"--batch-size: {batchSize} must be >= 1.");
        TorchRuntime.Configure(options.Threads, config.Training.Seed);

        var plan = EmbeddingPlan.Create(config);
        using var trainer = (buildTrainer ?? BuildTrainer)(config, plan, options.Threads);
        var vocabularies = FeatureVocabularies.For(plan);
        var readerOptions = new CtrReaderOptions { OnMalformed = options.OnMalformed };
        if (options.Standardize)
        {
            // A deterministic first pass, so a resumed run recomputes the same statistics.
            using var firstPass = CtrReaders.Open(options.TrainPath, options.Format, readerOptions, null);
            var statistics = DenseStatistics.Compute(firstPass);
            readerOptions = readerOptions with { Dense = readerOptions.Dense.WithStandardization(statistics) };
        }

        var state = new RunState();
        long? resumedFrom = null;
        if (options.ResumeDir is not null)
        {
            var reader = CheckpointReader.TryOpenLatest(options.ResumeDir, fallBackToPrevious: true);
            if (reader is not null)
            {
                TrainingCheckpoint.Restore(reader, trainer, vocabularies, state);
                resumedFrom = reader.Step;
            }
        }

        var metrics = new StreamingCtrMetrics(windowSize: 1 << 17, histogramBins: 100_000);
        var predictions = new float[batchSize];
        var clock = Stopwatch.StartNew();
        long samplesThisRun = 0;
        var malformedExamples = new List<string>();
        string? lastCheckpoint = null;
        bool stop = false;
        while (state.Epoch < epochs && !stop)
        {
            using var reader = CtrReaders.Open(options.TrainPath, options.Format, readerOptions, state.Position);
            CheckSchema(config, reader);
            var builder = reader.CreateBuilder();
            long skippedBefore = state.MalformedSkipped;
            CtrBatch? batch = null;
            while (!stop && reader.TryReadBatch(builder, batchSize, out batch, batch))
            {
                cancel.ThrowIfCancellationRequested();
                vocabularies.Apply(batch.Sparse);
                trainer.TrainStep(batch.Sparse, batch.Dense, batch.Labels, predictions);
                metrics.Add(predictions.AsSpan(0, batch.BatchSize), batch.Labels);
                state.Batches++;
                state.Samples += batch.BatchSize;
                state.Position = reader.Position;
                state.MalformedSkipped = skippedBefore + reader.Report.SkippedRecords;
                samplesThisRun += batch.BatchSize;
                if (progress is not null && (state.Batches % 10 == 0))
                {
                    var snap = metrics.Snapshot();
                    progress.Report(new TrainProgress(state.Epoch + 1, state.Samples, state.Batches, samplesThisRun / clock.Elapsed.TotalSeconds,
                        snap.Cumulative.LogLoss, snap.WindowAuc));
                }
                if (options.CheckpointDir is not null && options.CheckpointEveryBatches > 0 && state.Batches % options.CheckpointEveryBatches == 0)
                    lastCheckpoint = TrainingCheckpoint.Save(options.CheckpointDir, trainer, vocabularies, state, TrainingCheckpoint.WithConfig(config));
                if (options.MaxBatches is { } max && state.Batches >= max) stop = true;
            }
            if (!stop)
            {
                // The epoch ran to the end of the file: the next one starts from the top. (A stop keeps the
                // position, so a checkpoint written now resumes mid-epoch.)
                state.Epoch++;
                state.Position = null;
            }
            state.MalformedSkipped = skippedBefore + reader.Report.SkippedRecords;
            malformedExamples.AddRange(reader.Report.Examples.Select(e => e.ToString()).Take(5 - malformedExamples.Count));
        }
        double trainSeconds = clock.Elapsed.TotalSeconds;
        if (options.CheckpointDir is not null)
            lastCheckpoint = TrainingCheckpoint.Save(options.CheckpointDir, trainer, vocabularies, state, TrainingCheckpoint.WithConfig(config));

        var final = metrics.Snapshot();
        var summary = new TrainSummary
        {
            Model = config.Name,
            TrainPath = options.TrainPath,
            EvalPath = options.EvalPath,
            TrainSamples = state.Samples,
            Batches = state.Batches,
            Epochs = epochs,
            ProgressiveLogLoss = final.Cumulative.LogLoss,
            ProgressiveAuc = final.CumulativeAuc.Auc,
            ProgressiveCalibration = final.Cumulative.Calibration,
            EmbeddingParameters = plan.Total.WeightParameters,
            EmbeddingWeightBytes = plan.Total.WeightBytes,
            EmbeddingOptimizerBytes = plan.Total.OptimizerBytes,
            FullTableWeightBytes = plan.Baseline.Memory.WeightBytes,
            CompressionRatio = plan.CompressionRatio,
            DenseParameters = trainer.DenseParameterCount,
            SamplesPerSecond = samplesThisRun / Math.Max(trainSeconds, 1e-9),
            WallSeconds = trainSeconds,
            MalformedSkipped = state.MalformedSkipped,
            MalformedExamples = malformedExamples,
            VocabularyOverflow = vocabularies.All.Sum(v => v.Overflowed),
            ResumedFromStep = resumedFrom,
            LastCheckpoint = lastCheckpoint,
        };
        if (options.EvalPath is null) return summary;
        var eval = Evaluate(config, trainer, vocabularies, options.EvalPath, options.Format, readerOptions, batchSize, options.PredictionsPath);
        return summary with
        {
            EvalSamples = eval.Count,
            Auc = eval.Auc,
            LogLoss = eval.Summary.LogLoss,
            NormalizedEntropy = eval.Summary.NormalizedEntropy,
            Calibration = eval.Summary.Calibration,
            MalformedSkipped = summary.MalformedSkipped + eval.Skipped,
        };
    }

    /// <summary>Tables from the plan, the dense model from the config, and their optimizers.</summary>
    public static CtrTrainer BuildTrainer(ModelConfig config, EmbeddingPlan plan, int threads)
    {
        var tables = new EmbeddingCollection(plan.Build());
        tables.Threads = threads;
        int dense = config.DenseFeatures.Count;
        ICtrModel model = config.Model.Kind switch
        {
            DenseModelKind.Dlrm => new DlrmModel(dense, tables.FeatureColumns.ToList(), config.EmbeddingDim, config.Model),
            DenseModelKind.DcnV2 => new DcnV2Model(dense, tables.Width, config.Model),
            _ => throw new ArgumentOutOfRangeException(nameof(config), config.Model.Kind, "unknown model kind"),
        };
        return new CtrTrainer(tables, model, dense, config.DenseOptimizer);
    }

    public readonly record struct EvalResult(long Count, double Auc, CtrSummary Summary, long Skipped);

    /// <summary>
    /// Scores a held-out file without training and computes exact metrics; with <paramref name="predictionsPath"/>,
    /// also writes each scored row's probability there, one per line in file order (skipped malformed rows have none).
    /// </summary>
    public static EvalResult Evaluate(ModelConfig config, ICtrTrainer trainer, FeatureVocabularies vocabularies, string path, string format,
                                      CtrReaderOptions readerOptions, int batchSize, string? predictionsPath = null)
    {
        using var reader = CtrReaders.Open(path, format, readerOptions, null);
        CheckSchema(config, reader);
        var builder = reader.CreateBuilder();
        var allPredictions = new List<float>();
        var allLabels = new List<float>();
        var predictions = new float[batchSize];
        CtrBatch? batch = null;
        while (reader.TryReadBatch(builder, batchSize, out batch, batch))
        {
            vocabularies.Apply(batch.Sparse);
            trainer.Predict(batch.Sparse, batch.Dense, predictions);
            allPredictions.AddRange(predictions.AsSpan(0, batch.BatchSize));
            foreach (float y in batch.Labels) allLabels.Add(y);
        }
        var p = allPredictions.ToArray();
        var y2 = allLabels.ToArray();
        if (predictionsPath is not null)
        {
            // Written to a temporary file and renamed, so a reader never sees half a file.
            string temporary = predictionsPath + ".tmp";
            using (var writer = new StreamWriter(temporary))
                foreach (float q in p) writer.WriteLine(q.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
            File.Move(temporary, predictionsPath, overwrite: true);
        }
        return new EvalResult(p.Length, Metrics.Auc.Exact(p, y2), CtrLoss.Summarize(p, y2), reader.Report.SkippedRecords);
    }

    /// <summary>The config's features must be what the reader produces, by name; a mismatch names both sides.</summary>
    public static void CheckSchema(ModelConfig config, ICtrReader reader)
    {
        var schema = reader.Schema;
        if (config.DenseFeatures.Count != schema.DenseCount)
            throw new ConfigException("dense_features", $"dense_features: {config.DenseFeatures.Count} dense features in the config, but {reader.SourceName} has {schema.DenseCount} ({string.Join(", ", schema.DenseFeatures)}).");
        var missing = config.SparseFeatures.Select(f => f.Name).Where(n => !schema.SparseFeatures.Contains(n)).ToArray();
        if (missing.Length > 0)
            throw new ConfigException("sparse_features", $"sparse_features: {string.Join(", ", missing)} not produced by {reader.SourceName} (it has {string.Join(", ", schema.SparseFeatures)}).");
    }
}

/// <summary>Where a run is: epoch, batches and samples so far, and the reader position to continue from.</summary>
public sealed class RunState
{
    public int Epoch { get; set; }
    public long Batches { get; set; }
    public long Samples { get; set; }
    public ReaderPosition? Position { get; set; }
    /// <summary>Malformed records skipped so far, over every run that led to this state (kept across resumes).</summary>
    public long MalformedSkipped { get; set; }
}
