using RecsysEmbed.Data.Readers;
using System.CommandLine;
using System.Text.Json;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Data.Synthetic;
using RecsysEmbed.Training;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// <c>recsys-embed quickstart</c>: the self-contained main job. Generates a synthetic Criteo-schema click log with a
/// planted model (so the best achievable AUC is known), trains DLRM with unified embedding on it, evaluates on
/// held-out rows of the same log, and prints the result next to the size full tables would have had.
/// </summary>
internal static class QuickstartCommand
{
    public static Command Create()
    {
        var rows = new Option<long>("--rows") { Description = "Training rows to generate.", DefaultValueFactory = _ => 1_000_000 };
        var evalRows = new Option<long>("--eval-rows") { Description = "Held-out rows (the same planted model, later rows).", DefaultValueFactory = _ => 200_000 };
        var config = new Option<string?>("--config") { Description = "Model config (default: the embedded configs/criteo-ue.yaml)." };
        var dir = new Option<string?>("--dir") { Description = "Working directory for the data (default: a temporary one, removed afterwards)." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the synthetic data.", DefaultValueFactory = _ => 1 };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training rows.", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var json = new Option<bool>("--json") { Description = "Print the summary as one JSON object on stdout." };
        var offline = new Option<bool>("--offline") { Description = "Train offline from the file instead of online through the embedded Kafka broker." };
        var malformed = new Option<int>("--malformed") { Description = "Online: malformed records mixed into the stream (they go to the dead-letter topic).", DefaultValueFactory = _ => 20 };
        var command = new Command("quickstart", "Generate a synthetic click log, train DLRM with unified embedding online (embedded Kafka, replay producer, stream trainer), and report online metrics, AUC against the best achievable, freshness and the memory saved.")
        {
            rows, evalRows, config, dir, seed, epochs, threads, json, offline, malformed,
        };
        command.SetAction(p => Execute(p.GetValue(rows), p.GetValue(evalRows), p.GetValue(config), p.GetValue(dir), p.GetValue(seed),
            p.GetValue(epochs), p.GetValue(threads), p.GetValue(json), p.InvocationConfiguration.Output, p.InvocationConfiguration.Error,
            online: !p.GetValue(offline), malformed: p.GetValue(malformed)));
        return command;
    }

    public static int Execute(long rows, long evalRows, string? configPath, string? dir, ulong seed, int epochs, int threads, bool json,
                              TextWriter stdout, TextWriter stderr, bool online = false, int malformed = 0)
    {
        if (rows < 1 || evalRows < 1)
        {
            stderr.WriteLine($"error: --rows ({rows}) and --eval-rows ({evalRows}) must be >= 1.");
            return Program.UsageError;
        }
        ModelConfig config;
        try
        {
            config = configPath is null ? ModelConfig.Parse(EmbeddedConfig()) : ModelConfig.Load(configPath);
        }
        catch (ConfigException e)
        {
            stderr.WriteLine($"error: {configPath ?? "embedded criteo-ue.yaml"}: {e.Message}");
            return Program.UsageError;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            stderr.WriteLine($"error: config file not found: {configPath}");
            return Program.UsageError;
        }

        bool temporary = dir is null;
        string work = dir ?? Path.Combine(Path.GetTempPath(), $"recsys-quickstart-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            // One log, split by rows: the held-out rows come from the same planted model as the training rows.
            string all = Path.Combine(work, "synthetic-criteo.tsv");
            stderr.WriteLine($"generating {rows + evalRows:N0} synthetic Criteo-schema rows (seed {seed}) in {work} ...");
            var generated = new SyntheticCtrGenerator(new SyntheticOptions { Schema = SyntheticSchemaKind.Criteo, Rows = rows + evalRows, Seed = seed, Threads = threads })
                .GenerateFile(all);
            string train = Path.Combine(work, "train.tsv"), eval = Path.Combine(work, "eval.tsv");
            LineFiles.SplitLines(all, rows, train, eval);
            File.Delete(all);
            stderr.WriteLine($"  {generated.RowsPerSecond:N0} rows/s; CTR {generated.Ctr:F4}; best achievable AUC {generated.BestAuc:F4} (from the true probabilities)");
            if (online)
            {
                // The lookup service reads its config from a file: the given one, or the embedded default written out.
                string servingConfig = configPath ?? Path.Combine(work, "model.yaml");
                if (configPath is null) File.WriteAllText(servingConfig, EmbeddedConfig());
                var result = OnlineQuickstart.Run(config, train, eval, generated.BestAuc, work, threads, malformed, stderr, servingConfig);
                if (json) stdout.WriteLine(OnlineQuickstart.Json(result));
                else OnlineQuickstart.Write(result, stdout);
                return 0;
            }

            var summary = TrainCommandRunner.Run(config, new TrainOptions { TrainPath = train, EvalPath = eval, Epochs = epochs, Threads = threads }, json, stderr);
            if (json)
            {
                stdout.WriteLine(JsonSerializer.Serialize(new { summary, best_auc = generated.BestAuc, data_ctr = generated.Ctr }, SummaryJson.Compact));
            }
            else
            {
                SummaryTable.Write(summary, stdout);
                stdout.WriteLine($"  best achievable AUC on this synthetic log: {generated.BestAuc:F5} (gap {generated.BestAuc - summary.Auc:F5})");
            }
            return 0;
        }
        finally
        {
            if (temporary) Directory.Delete(work, recursive: true);
        }
    }

    internal static string EmbeddedConfig()
    {
        using var stream = typeof(QuickstartCommand).Assembly.GetManifestResourceStream("RecsysEmbed.Cli.criteo-ue.yaml")
            ?? throw new InvalidOperationException("embedded config criteo-ue.yaml is missing from the build.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
