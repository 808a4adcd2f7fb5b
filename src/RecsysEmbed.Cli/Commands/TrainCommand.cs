using System.CommandLine;
using System.Text.Json;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Checkpoints;
using Spectre.Console;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// <c>recsys-embed train --config FILE --train PATH [--eval PATH] [--epochs N] [--out summary.json] [--checkpoint DIR]
/// [--resume DIR] [--json]</c>: offline CTR training with live progress and a final summary.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config", "-c") { Description = "Model config YAML.", Required = true };
        var train = new Option<string>("--train") { Description = "Training data file.", Required = true };
        var eval = new Option<string?>("--eval") { Description = "Held-out data file for the final metrics." };
        var predictionsOut = new Option<string?>("--predictions-out") { Description = "Write each held-out row's predicted click probability to this file, one per line in --eval's order." };
        var epochs = new Option<int?>("--epochs") { Description = "Passes over the training file (default: config training.epochs)." };
        var batch = new Option<int?>("--batch-size") { Description = "Samples per batch (default: config training.batch_size)." };
        var format = new Option<string>("--format") { Description = "criteo | avazu | movielens | libfm | auto (by file name).", DefaultValueFactory = _ => "auto" };
        var malformed = new Option<string>("--on-malformed") { Description = "fail: stop at the first bad line; skip: count and report them.", DefaultValueFactory = _ => "fail" };
        var threads = new Option<int>("--threads") { Description = "Threads for torch and the embedding kernels.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var output = new Option<string?>("--out") { Description = "Write the summary as JSON to this file." };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Directory for checkpoints (written at the end and every --checkpoint-every batches)." };
        var every = new Option<int>("--checkpoint-every") { Description = "Checkpoint every N batches (0: only at the end).", DefaultValueFactory = _ => 0 };
        var resume = new Option<string?>("--resume") { Description = "Resume from the newest good checkpoint in this directory." };
        var maxBatches = new Option<long?>("--max-batches") { Description = "Stop after this many batches in total." };
        var standardize = new Option<bool>("--standardize") { Description = "Standardise dense features (mean 0, deviation 1 after log1p) from a first pass over --train." };
        var json = new Option<bool>("--json") { Description = "Print the summary as one JSON object on stdout." };
        var command = new Command("train", "Train a CTR model (DLRM or DCN-v2) on a dataset file and report AUC, log loss and speed.")
        {
            config, train, eval, predictionsOut, epochs, batch, format, malformed, threads, output, checkpoint, every, resume, maxBatches, json, standardize,
        };
        command.SetAction(p =>
        {
            var stdout = p.InvocationConfiguration.Output;
            var stderr = p.InvocationConfiguration.Error;
            string policy = p.GetValue(malformed)!;
            if (policy is not ("fail" or "skip"))
            {
                stderr.WriteLine($"error: --on-malformed: '{policy}' is not fail or skip.");
                return Program.UsageError;
            }
            if (p.GetValue(predictionsOut) is { } predictionsPath && p.GetValue(eval) is null)
            {
                stderr.WriteLine($"error: --predictions-out: '{predictionsPath}' needs --eval (the held-out rows to score).");
                return Program.UsageError;
            }
            var options = new TrainOptions
            {
                TrainPath = p.GetValue(train)!,
                EvalPath = p.GetValue(eval),
                PredictionsPath = p.GetValue(predictionsOut),
                Epochs = p.GetValue(epochs),
                BatchSize = p.GetValue(batch),
                Format = p.GetValue(format)!,
                OnMalformed = policy == "skip" ? MalformedPolicy.Skip : MalformedPolicy.Fail,
                Standardize = p.GetValue(standardize),
                Threads = p.GetValue(threads),
                CheckpointDir = p.GetValue(checkpoint),
                CheckpointEveryBatches = p.GetValue(every),
                ResumeDir = p.GetValue(resume),
                MaxBatches = p.GetValue(maxBatches),
            };
            return Execute(p.GetValue(config)!, options, p.GetValue(output), p.GetValue(json), stdout, stderr);
        });
        return command;
    }

    public static int Execute(string configPath, TrainOptions options, string? outPath, bool json, TextWriter stdout, TextWriter stderr)
    {
        TrainSummary summary;
        try
        {
            var config = ModelConfig.Load(configPath);
            summary = RunWithProgress(config, options, json, stderr);
        }
        catch (ConfigException e)
        {
            stderr.WriteLine($"error: {configPath}: {e.Message}");
            return Program.UsageError;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or ArgumentException or CheckpointException or MalformedRecordException)
        {
            stderr.WriteLine($"error: {e.Message}");
            return Program.UsageError;
        }
        if (outPath is not null) File.WriteAllText(outPath, JsonSerializer.Serialize(summary, SummaryJson.Options));
        if (json) stdout.WriteLine(JsonSerializer.Serialize(summary, SummaryJson.Compact));
        else SummaryTable.Write(summary, stdout);
        return 0;
    }

    private static TrainSummary RunWithProgress(ModelConfig config, TrainOptions options, bool json, TextWriter stderr) =>
        TrainCommandRunner.Run(config, options, json, stderr);
}

/// <summary>Runs training with a live status line on a terminal, or plain progress lines otherwise.</summary>
internal static class TrainCommandRunner
{
    public static TrainSummary Run(ModelConfig config, TrainOptions options, bool json, TextWriter stderr)
    {
        // A live status line on a terminal; plain lines every few seconds otherwise (CI logs, pipes).
        if (!json && !Console.IsErrorRedirected && AnsiConsole.Profile.Capabilities.Interactive)
        {
            TrainSummary? result = null;
            AnsiConsole.Status().Start("training", ctx =>
            {
                result = TrainingRun.Run(config, options, new SynchronousProgress<TrainProgress>(p => ctx.Status(
                    $"epoch {p.Epoch}  {p.Samples:N0} samples  {p.SamplesPerSecond:N0}/s  log loss {p.LogLoss:F4}  AUC(window) {p.WindowAuc:F4}")));
            });
            return result!;
        }
        var last = DateTime.UtcNow;
        return TrainingRun.Run(config, options, new SynchronousProgress<TrainProgress>(p =>
        {
            if ((DateTime.UtcNow - last).TotalSeconds < 5) return;
            last = DateTime.UtcNow;
            stderr.WriteLine($"epoch {p.Epoch}  {p.Samples:N0} samples  {p.SamplesPerSecond:N0}/s  log loss {p.LogLoss:F4}  AUC(window) {p.WindowAuc:F4}");
        }));
    }
}

/// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

internal static class SummaryJson
{
    public static readonly JsonSerializerOptions Options = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
    public static readonly JsonSerializerOptions Compact = new(Options) { WriteIndented = false };
}

internal static class SummaryTable
{
    public static void Write(TrainSummary s, TextWriter output)
    {
        output.WriteLine($"model {s.Model}: {s.TrainSamples:N0} training samples in {s.Batches:N0} batches, {s.Epochs} epoch(s), {s.WallSeconds:F1} s, {s.SamplesPerSecond:N0} samples/s");
        output.WriteLine($"  progressive (train)  log loss {s.ProgressiveLogLoss:F5}  AUC {s.ProgressiveAuc:F5}  calibration {s.ProgressiveCalibration:F4}");
        if (s.Auc is not null)
            output.WriteLine($"  held-out ({s.EvalSamples:N0})  AUC {s.Auc:F5}  log loss {s.LogLoss:F5}  NE {s.NormalizedEntropy:F5}  calibration {s.Calibration:F4}");
        output.WriteLine($"  embeddings  {s.EmbeddingParameters:N0} parameters, {Mib(s.EmbeddingWeightBytes)} weights + {Mib(s.EmbeddingOptimizerBytes)} optimizer state");
        if (s.FullTableWeightBytes > 0)
            output.WriteLine($"  full tables would be {Mib(s.FullTableWeightBytes)}: {s.CompressionRatio:F1}x smaller");
        output.WriteLine($"  dense model {s.DenseParameters:N0} parameters");
        if (s.MalformedSkipped > 0)
        {
            output.WriteLine($"  malformed records skipped: {s.MalformedSkipped:N0}");
            foreach (var example in s.MalformedExamples) output.WriteLine($"    {example}");
        }
        if (s.VocabularyOverflow > 0) output.WriteLine($"  ids past a full vocabulary (sharing rows): {s.VocabularyOverflow:N0}");
        if (s.ResumedFromStep is not null) output.WriteLine($"  resumed from checkpoint step {s.ResumedFromStep}");
        if (s.LastCheckpoint is not null) output.WriteLine($"  checkpoint: {s.LastCheckpoint}");
    }

    private static string Mib(long bytes) => $"{bytes / 1048576.0:N1} MiB";
}
