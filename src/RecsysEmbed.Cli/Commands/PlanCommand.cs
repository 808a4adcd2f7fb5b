using System.CommandLine;
using System.Text.Json;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Towers;
using RecsysEmbed.Towers.Planning;
using RecsysEmbed.Towers.Sharding;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// <c>recsys-embed plan --config FILE --hosts H --workers-per-host W [--towers T] [--strategy S] [--json]</c>: places
/// the config's tables on a cluster (table-wise, row-wise, column-wise or DMT towers) and prints memory per worker,
/// lookup cost and traffic per step, intra- and inter-host apart; refuses a plan that exceeds --memory-per-worker.
/// <c>recsys-embed plan simulate --config FILE [--workers 64,128,256,512] ...</c>: step-time estimates, flat vs DMT.
/// </summary>
internal static class PlanCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config", "-c") { Description = "Model config YAML.", Required = true };
        var hosts = new Option<int>("--hosts") { Description = "Hosts in the cluster.", Required = true };
        var perHost = new Option<int>("--workers-per-host") { Description = "Workers (GPUs) per host.", DefaultValueFactory = _ => 8 };
        var towers = new Option<int?>("--towers") { Description = "DMT towers (groups of whole hosts); implies --strategy tower." };
        var strategy = new Option<string?>("--strategy") { Description = "table-wise | row-wise | column-wise | tower (default: tower with --towers, else table-wise)." };
        var batch = new Option<int>("--batch-per-worker") { Description = "Samples per worker per step.", DefaultValueFactory = _ => 512 };
        var pooling = new Option<double>("--pooling") { Description = "Mean ids per bag of every feature (configs carry none).", DefaultValueFactory = _ => 1.0 };
        var memory = new Option<string?>("--memory-per-worker") { Description = "Refuse plans that need more than this per worker, e.g. 80GiB." };
        var module = ModuleOptions.Kind();
        var vectors = ModuleOptions.Vectors();
        var partition = new Option<string?>("--partition") { Description = "Tower plan JSON (from `towers partition --out`); default: balanced by cost." };
        var columns = new Option<int>("--column-pieces") { Description = "Column-wise: blocks per table.", DefaultValueFactory = _ => 2 };
        var json = new Option<bool>("--json") { Description = "Print the plan as one JSON object." };
        var command = new Command("plan", "Place the tables on hosts and workers (table-, row-, column-wise or DMT towers) with memory, lookup and traffic per step.")
        {
            config, hosts, perHost, towers, strategy, batch, pooling, memory, module, vectors, partition, columns, json, Simulate(),
        };
        command.SetAction(p =>
        {
            var stdout = p.InvocationConfiguration.Output;
            var stderr = p.InvocationConfiguration.Error;
            string path = p.GetValue(config)!;
            try
            {
                var model = ModelConfig.Load(path);
                var embedding = EmbeddingPlan.Create(model);
                double bag = p.GetValue(pooling);
                var costs = CostEstimator.Estimate(embedding, _ => bag);
                var topology = new ClusterTopology(p.GetValue(hosts), p.GetValue(perHost));
                var moduleConfig = new TowerModuleConfig(TowerModuleConfig.ParseKind(p.GetValue(module)!), p.GetValue(vectors));
                string kind = p.GetValue(strategy) ?? (p.GetValue(towers) is null ? "table-wise" : "tower");
                IShardingStrategy chosen = kind switch
                {
                    "table-wise" => new TableWiseSharding(),
                    "row-wise" => new RowWiseSharding(),
                    "column-wise" => new ColumnWiseSharding(p.GetValue(columns)),
                    "tower" => TowerStrategy(embedding, costs, p.GetValue(towers) ?? topology.Hosts, p.GetValue(partition), moduleConfig, model.EmbeddingDim),
                    _ => throw new ArgumentException($"--strategy: '{kind}' is not table-wise, row-wise, column-wise or tower."),
                };
                var plan = chosen.Plan(costs, topology, p.GetValue(batch));
                if (p.GetValue(memory) is { } text)
                {
                    if (!ByteSize.TryParse(text, out long bytes)) throw new ArgumentException($"--memory-per-worker: '{text}': {ByteSize.Expected}.");
                    plan.EnsureFits(bytes);
                }
                if (p.GetValue(json)) stdout.WriteLine(JsonSerializer.Serialize(ShardingReport.Json(plan), ShardingReport.JsonOptions));
                else ShardingReport.Write(plan, stdout);
                return 0;
            }
            catch (ConfigException e) { stderr.WriteLine($"error: {path}: {e.Message}"); return Program.UsageError; }
            catch (Exception e) when (e is ArgumentException or FileNotFoundException or DirectoryNotFoundException or JsonException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return Program.UsageError;
            }
        });
        return command;
    }

    private static TowerSharding TowerStrategy(EmbeddingPlan plan, IReadOnlyList<TableCost> costs, int towers, string? partitionPath, TowerModuleConfig module, int dim)
    {
        int[] towerOf = partitionPath is null
            ? TowerPartitioner.Balanced(new double[costs.Count, costs.Count], costs, towers)
            : TowerPlan.FromJson(File.ReadAllText(partitionPath)).TowerOfTable(plan);
        return new TowerSharding(towers, towerOf, inputs => module.OutputFloats(inputs, dim));
    }

    private static Command Simulate()
    {
        var config = new Option<string>("--config", "-c") { Description = "Model config YAML.", Required = true };
        var workers = new Option<string>("--workers") { Description = "Cluster sizes, comma separated.", DefaultValueFactory = _ => "64,128,256,512" };
        var perHost = new Option<int>("--workers-per-host") { DefaultValueFactory = _ => 8 };
        var batch = new Option<int>("--batch-per-worker") { DefaultValueFactory = _ => 512 };
        var intra = new Option<double>("--intra-gbytes") { Description = "Intra-host bandwidth per worker and direction, GB/s.", DefaultValueFactory = _ => 300 };
        var inter = new Option<double>("--inter-gbits") { Description = "Inter-host bandwidth per worker and direction, Gb/s.", DefaultValueFactory = _ => 200 };
        var intraLatency = new Option<double>("--intra-latency-us") { DefaultValueFactory = _ => 3 };
        var interLatency = new Option<double>("--inter-latency-us") { DefaultValueFactory = _ => 10 };
        var lookup = new Option<double>("--lookup-gbytes") { Description = "Effective embedding gather/update bandwidth per worker, GB/s.", DefaultValueFactory = _ => 1000 };
        var tflops = new Option<double>("--dense-tflops") { Description = "Effective dense TFLOP/s per worker.", DefaultValueFactory = _ => 50 };
        var towers = new Option<int?>("--towers") { Description = "DMT towers (default: one per host, or the largest divisor of the hosts <= tables)." };
        var copies = new Option<int>("--feature-copies") { Description = "Replicate every table K times (a wider production-like model).", DefaultValueFactory = _ => 1 };
        var pooling = new Option<double>("--pooling") { DefaultValueFactory = _ => 1.0 };
        var module = ModuleOptions.Kind();
        var vectors = ModuleOptions.Vectors();
        var json = new Option<bool>("--json");
        var command = new Command("simulate", "Estimate step time for growing clusters, flat (table-wise) vs DMT towers, from the plans' compute and traffic.")
        {
            config, workers, perHost, batch, intra, inter, intraLatency, interLatency, lookup, tflops, towers, copies, pooling, module, vectors, json,
        };
        command.SetAction(p =>
        {
            var stdout = p.InvocationConfiguration.Output;
            var stderr = p.InvocationConfiguration.Error;
            string path = p.GetValue(config)!;
            try
            {
                var model = ModelConfig.Load(path);
                double bag = p.GetValue(pooling);
                int k = p.GetValue(copies);
                if (k < 1) throw new ArgumentException($"--feature-copies: {k} must be >= 1.");
                var costs = Replicate(CostEstimator.Estimate(EmbeddingPlan.Create(model), _ => bag), k);
                var assumptions = new SimulatorAssumptions
                {
                    WorkersPerHost = p.GetValue(perHost), BatchPerWorker = p.GetValue(batch),
                    IntraHostGBytesPerSecond = p.GetValue(intra), InterHostGbitsPerSecond = p.GetValue(inter),
                    IntraHostLatencyMicroseconds = p.GetValue(intraLatency), InterHostLatencyMicroseconds = p.GetValue(interLatency),
                    LookupGBytesPerSecond = p.GetValue(lookup), DenseTflops = p.GetValue(tflops),
                    TowerModule = new TowerModuleConfig(TowerModuleConfig.ParseKind(p.GetValue(module)!), p.GetValue(vectors)),
                };
                var sizes = p.GetValue(workers)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                    .Select(s => int.TryParse(s, out int n) && n > 0 ? n : throw new ArgumentException($"--workers: '{s}' is not a positive integer.")).ToArray();
                var results = sizes.Select(n => StepTimeSimulator.Simulate(model, costs, n, assumptions, p.GetValue(towers))).ToArray();
                if (p.GetValue(json)) stdout.WriteLine(JsonSerializer.Serialize(new { assumptions, tables = costs.Count, results = results.Select(r => new { r.Workers, r.Hosts, r.Towers, flat = r.Flat, dmt = r.Dmt, flat_total_ms = r.Flat.Total * 1e3, dmt_total_ms = r.Dmt.Total * 1e3, r.Speedup, r.FlatInterBytesPerSample, r.DmtInterBytesPerSample }) }, ShardingReport.JsonOptions));
                else ShardingReport.WriteSimulation(model, costs.Count, assumptions, results, stdout);
                return 0;
            }
            catch (ConfigException e) { stderr.WriteLine($"error: {path}: {e.Message}"); return Program.UsageError; }
            catch (Exception e) when (e is ArgumentException or FileNotFoundException or DirectoryNotFoundException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return Program.UsageError;
            }
        });
        return command;
    }

    private static IReadOnlyList<TableCost> Replicate(IReadOnlyList<TableCost> tables, int copies) => copies == 1 ? tables :
        Enumerable.Range(0, copies).SelectMany(k => tables.Select(t => t with { Table = $"{t.Table}#{k}", Features = t.Features.Select(f => $"{f}#{k}").ToArray() })).ToArray();
}

/// <summary>The tower module options shared by plan, simulate and towers.</summary>
internal static class ModuleOptions
{
    public static Option<string> Kind() => new("--tower-module") { Description = "identity | projection | dot-mlp.", DefaultValueFactory = _ => "projection" };
    public static Option<int> Vectors() => new("--tower-vectors") { Description = "d-wide vectors each tower module emits.", DefaultValueFactory = _ => 2 };
}
