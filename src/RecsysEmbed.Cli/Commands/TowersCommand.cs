using System.CommandLine;
using System.Text.Json;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Synthetic;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Checkpoints;
using RecsysEmbed.Towers;
using RecsysEmbed.Towers.Execution;
using RecsysEmbed.Towers.Planning;
using RecsysEmbed.Towers.Sharding;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// <c>recsys-embed towers partition --checkpoint DIR [--config FILE] --towers T [--json] [--out FILE]</c>: towers from a
/// trained DLRM, next to random and round-robin partitions of the same size.
/// <c>recsys-embed towers train --config FILE --train PATH --towers T [--partition FILE | --random-towers SEED] ...</c>:
/// trains the tower model with the training loop, checkpoints and metrics of `train`, and reports the bytes that
/// crossed tower boundaries next to the plan's estimate.
/// <c>recsys-embed towers bench ...</c>: flat vs DMT (partitioner and random towers) on the synthetic Criteo log, in one run.
/// </summary>
internal static class TowersCommand
{
    public static Command Create() => new("towers", "DMT towers: partition features from a trained model, train the tower model, compare with flat.")
    {
        Partition(), Train(), Bench(),
    };

    private static Command Partition()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint directory of a trained flat DLRM (from `train --checkpoint`).", Required = true };
        var config = new Option<string?>("--config", "-c") { Description = "The model config that checkpoint was trained with (default: the config stored in the checkpoint)." };
        var towers = new Option<int>("--towers") { Description = "Number of towers.", Required = true };
        var slack = new Option<double>("--slack") { Description = "Allowed load above the mean per tower (0.1 = 10%).", DefaultValueFactory = _ => 0.10 };
        var trials = new Option<int>("--random-trials") { Description = "Random partitions to average.", DefaultValueFactory = _ => 200 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var output = new Option<string?>("--out") { Description = "Write the tower plan JSON here (for `towers train --partition`)." };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON object." };
        var command = new Command("partition", "Partition features into towers that keep strongly interacting features together under a balance constraint.")
        {
            checkpoint, config, towers, slack, trials, seed, output, json,
        };
        command.SetAction(p => Guard(p.GetValue(config) ?? p.GetValue(checkpoint)!, p.InvocationConfiguration.Error, () =>
        {
            var model = p.GetValue(config) is { } configPath ? ModelConfig.Load(configPath) : ConfigFromCheckpoint(p.GetValue(checkpoint)!);
            var result = TowerPartitioning.FromCheckpoint(model, p.GetValue(checkpoint)!, p.GetValue(towers), p.GetValue(slack), p.GetValue(trials), p.GetValue(seed));
            if (p.GetValue(output) is { } path) File.WriteAllText(path, result.Plan.ToJson());
            var o = p.InvocationConfiguration.Output;
            if (p.GetValue(json)) o.WriteLine(JsonSerializer.Serialize(PartitionJson(result), ShardingReport.JsonOptions));
            else WritePartition(result, o);
            return 0;
        }));
        return command;
    }

    private static Command Train()
    {
        var config = new Option<string>("--config", "-c") { Description = "Model config YAML (DLRM).", Required = true };
        var train = new Option<string>("--train") { Description = "Training data file.", Required = true };
        var eval = new Option<string?>("--eval") { Description = "Held-out data file." };
        var towers = new Option<int?>("--towers") { Description = "Towers, balanced by cost (ignored with --partition)." };
        var partition = new Option<string?>("--partition") { Description = "Tower plan JSON from `towers partition --out`." };
        var random = new Option<int?>("--random-towers") { Description = "Random towers (sizes as the balanced ones) from this seed." };
        var module = ModuleOptions.Kind();
        var vectors = ModuleOptions.Vectors();
        var hidden = new Option<int>("--tower-hidden") { Description = "Hidden width of the dot-mlp tower module.", DefaultValueFactory = _ => 64 };
        var sequential = new Option<bool>("--sequential") { Description = "Run towers one after another on one thread (default: a thread per tower)." };
        var epochs = new Option<int?>("--epochs");
        var batch = new Option<int?>("--batch-size");
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var checkpoint = new Option<string?>("--checkpoint");
        var resume = new Option<string?>("--resume");
        var maxBatches = new Option<long?>("--max-batches");
        var json = new Option<bool>("--json");
        var command = new Command("train", "Train the tower model (same loop, checkpoints and metrics as `train`) and count the bytes crossing tower boundaries.")
        {
            config, train, eval, towers, partition, random, module, vectors, hidden, sequential, epochs, batch, threads, checkpoint, resume, maxBatches, json,
        };
        command.SetAction(p => Guard(p.GetValue(config)!, p.InvocationConfiguration.Error, () =>
        {
            var model = ModelConfig.Load(p.GetValue(config)!);
            var plan = EmbeddingPlan.Create(model);
            TowerPlan towerPlan;
            if (p.GetValue(partition) is { } path) towerPlan = TowerPlan.FromJson(File.ReadAllText(path));
            else
            {
                int t = p.GetValue(towers) ?? throw new ArgumentException("--towers or --partition is required.");
                towerPlan = CostTowers(plan, t, p.GetValue(random));
            }
            var moduleConfig = new TowerModuleConfig(TowerModuleConfig.ParseKind(p.GetValue(module)!), p.GetValue(vectors), p.GetValue(hidden));
            var options = new TrainOptions
            {
                TrainPath = p.GetValue(train)!, EvalPath = p.GetValue(eval), Epochs = p.GetValue(epochs), BatchSize = p.GetValue(batch),
                Threads = p.GetValue(threads), CheckpointDir = p.GetValue(checkpoint), ResumeDir = p.GetValue(resume), MaxBatches = p.GetValue(maxBatches),
            };
            var run = TowerRun.Train(model, options, towerPlan, moduleConfig, parallel: !p.GetValue(sequential), p.InvocationConfiguration.Error, p.GetValue(json));
            var o = p.InvocationConfiguration.Output;
            if (p.GetValue(json)) o.WriteLine(JsonSerializer.Serialize(new { summary = run.Summary, traffic = run.TrafficJson() }, ShardingReport.JsonOptions));
            else
            {
                SummaryTable.Write(run.Summary, o);
                o.WriteLine($"  towers: {string.Join("  ", towerPlan.Towers.Select(t => $"{t.Name}[{string.Join(" ", t.Features)}]"))}");
                run.WriteTraffic(o);
            }
            return 0;
        }));
        return command;
    }

    private static Command Bench()
    {
        var rows = new Option<long>("--rows") { Description = "Training rows of the synthetic Criteo-schema log.", DefaultValueFactory = _ => 1_000_000 };
        var evalRows = new Option<long>("--eval-rows") { DefaultValueFactory = _ => 200_000 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the synthetic log (and its planted model).", DefaultValueFactory = _ => 7 };
        var cardinality = new Option<long>("--cardinality") { Description = "Cap on every feature's ids (and table rows).", DefaultValueFactory = _ => 10_000 };
        var config = new Option<string?>("--config") { Description = "Model config (default: criteo-full's features and DLRM with tables capped at --cardinality)." };
        var towers = new Option<int>("--towers") { DefaultValueFactory = _ => 4 };
        var module = ModuleOptions.Kind();
        module.DefaultValueFactory = _ => "dot-mlp";
        var vectors = ModuleOptions.Vectors();
        var hidden = new Option<int>("--tower-hidden") { DefaultValueFactory = _ => 64 };
        var randomSeeds = new Option<string>("--random-seeds") { Description = "Seeds of the random-tower runs, comma separated.", DefaultValueFactory = _ => "1" };
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var speedBatches = new Option<int>("--speed-batches") { Description = "Batches per throughput run (flat, tower-parallel, tower-sequential; twice each).", DefaultValueFactory = _ => 60 };
        var speedOnly = new Option<bool>("--speed-only") { Description = "Only the throughput rounds (towers balanced by cost; no flat checkpoint, no AUC)." };
        var json = new Option<bool>("--json");
        var command = new Command("bench", "Flat DLRM vs DMT towers (partitioner and random) on a synthetic Criteo log: AUC, bytes per sample, samples/s, in one run.")
        {
            rows, evalRows, seed, cardinality, config, towers, module, vectors, hidden, randomSeeds, epochs, threads, speedBatches, speedOnly, json,
        };
        command.SetAction(p => Guard(p.GetValue(config) ?? "(built-in config)", p.InvocationConfiguration.Error, () =>
            TowerBench.Run(new TowerBench.Settings(p.GetValue(rows), p.GetValue(evalRows), p.GetValue(seed), p.GetValue(cardinality), p.GetValue(config),
                p.GetValue(towers), new TowerModuleConfig(TowerModuleConfig.ParseKind(p.GetValue(module)!), p.GetValue(vectors), p.GetValue(hidden)),
                p.GetValue(randomSeeds)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray(),
                p.GetValue(epochs), p.GetValue(threads), p.GetValue(speedBatches), p.GetValue(json), p.GetValue(speedOnly)),
                p.InvocationConfiguration.Output, p.InvocationConfiguration.Error)));
        return command;
    }

    /// <summary>Towers balanced by cost alone, or random towers of the same sizes.</summary>
    internal static TowerPlan CostTowers(EmbeddingPlan plan, int towers, int? randomSeed)
    {
        var costs = CostEstimator.Estimate(plan);
        var towerOf = TowerPartitioner.Balanced(new double[costs.Count, costs.Count], costs, towers);
        if (randomSeed is { } s) towerOf = TowerPartitioner.RandomLike(towerOf, new Random(s));
        return TowerPlan.FromAssignment(plan, towerOf);
    }

    private static ModelConfig ConfigFromCheckpoint(string directory)
    {
        var reader = CheckpointReader.OpenLatest(directory, fallBackToPrevious: true);
        return TrainingCheckpoint.ReadConfig(reader)
            ?? throw new FormatException($"--config: the checkpoint in '{directory}' stores no model config ({TrainingCheckpoint.ConfigEntry}); pass the config it was trained with.");
    }

    private static int Guard(string configPath, TextWriter stderr, Func<int> body)
    {
        try { return body(); }
        catch (ConfigException e) { stderr.WriteLine($"error: {configPath}: {e.Message}"); return Program.UsageError; }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or DirectoryNotFoundException or CheckpointException or MalformedRecordException or JsonException or FormatException)
        {
            stderr.WriteLine($"error: {e.Message}");
            return Program.UsageError;
        }
    }

    internal static void WritePartition(PartitionComparison r, TextWriter o)
    {
        o.WriteLine($"{r.Plan.Towers.Count} towers over {r.Tables.Count} tables; interaction strength = |top-MLP column of the pair| x E|<e_f, e_g>| (DLRM)");
        var byName = r.Tables.ToDictionary(t => t.Table);
        double meanLookup = r.Tables.Sum(t => t.LookupPerSample) / r.Plan.Towers.Count;
        double meanMemory = r.Tables.Sum(t => (double)t.MemoryBytes) / r.Plan.Towers.Count;
        foreach (var t in r.Plan.Towers)
        {
            double lookup = t.Tables.Sum(x => byName[x].LookupPerSample);
            long memory = t.Tables.Sum(x => byName[x].MemoryBytes);
            o.WriteLine($"  {t.Name}: {string.Join(" ", t.Features)}   lookup {lookup:N0} floats/sample ({lookup / meanLookup:F2}x mean), memory {ByteSize.Format(memory)} ({memory / meanMemory:F2}x mean)");
        }
        o.WriteLine($"  {"partition",-22} {"kept interaction",16} {"lookup max/mean",16} {"memory max/mean",16}");
        o.WriteLine($"  {"partitioner",-22} {r.Partitioner.KeptShare,16:F4} {r.Partitioner.LookupBalance,16:F3} {r.Partitioner.MemoryBalance,16:F3}");
        o.WriteLine($"  {$"random (mean of {r.RandomTrials})",-22} {$"{r.RandomKeptMean:F4} ± {r.RandomKeptStdDev:F4}",16} {r.RandomLookupBalanceMean,16:F3} {r.RandomMemoryBalanceMean,16:F3}");
        o.WriteLine($"  {"round-robin",-22} {r.RoundRobin.KeptShare,16:F4} {r.RoundRobin.LookupBalance,16:F3} {r.RoundRobin.MemoryBalance,16:F3}");
    }

    internal static object PartitionJson(PartitionComparison r) => new
    {
        towers = r.Plan.Towers,
        partitioner = r.Partitioner,
        round_robin = r.RoundRobin,
        random = new { kept_share_mean = r.RandomKeptMean, kept_share_std_dev = r.RandomKeptStdDev, lookup_balance_mean = r.RandomLookupBalanceMean, memory_balance_mean = r.RandomMemoryBalanceMean, trials = r.RandomTrials },
    };
}
