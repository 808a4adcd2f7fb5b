using System.Diagnostics;
using System.Text.Json;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Data.Synthetic;
using RecsysEmbed.Training;
using RecsysEmbed.Towers;
using RecsysEmbed.Towers.Planning;
using RecsysEmbed.Towers.Sharding;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// `towers bench`: in one process, on one synthetic Criteo-schema log (train / held-out split of one generated file,
/// so both come from the same planted model):
/// <list type="number">
/// <item>flat DLRM, checkpointed; towers partitioned from that checkpoint;</item>
/// <item>DMT with the partitioner's towers and with random towers of the same sizes (a thread per tower): held-out AUC,
/// bytes crossing tower boundaries counted vs the plan; identity towers give the flat model's counted bytes;</item>
/// <item>throughput: flat, tower-parallel, tower-sequential and identity towers on the same first batches, twice, interleaved.</item>
/// </list>
/// </summary>
internal static class TowerBench
{
    public sealed record Settings(long Rows, long EvalRows, ulong Seed, long Cardinality, string? ConfigPath, int Towers, TowerModuleConfig Module,
                                  int[] RandomSeeds, int Epochs, int Threads, int SpeedBatches, bool Json, bool SpeedOnly = false);

    public static int Run(Settings s, TextWriter o, TextWriter err)
    {
        var config = s.ConfigPath is null ? BuiltInConfig(s.Cardinality) : ModelConfig.Load(s.ConfigPath);
        string dir = Path.Combine(Path.GetTempPath(), $"recsys-towers-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            string train = Path.Combine(dir, "train.tsv"), eval = Path.Combine(dir, "eval.tsv");
            var data = Generate(s, dir, train, eval);
            Say($"data: {s.Rows:N0} train + {s.EvalRows:N0} held-out synthetic Criteo rows (seed {s.Seed}, ids capped at {s.Cardinality:N0}); best AUC {data.BestAuc:F4}; {s.Threads} threads");
            TrainOptions Options(string? checkpoint = null, long? maxBatches = null, bool withEval = true) => new()
            {
                TrainPath = train, EvalPath = withEval ? eval : null, Epochs = s.Epochs, Threads = s.Threads, CheckpointDir = checkpoint, MaxBatches = maxBatches,
            };

            if (s.SpeedOnly)
            {
                Throughput(config, s, TowersCommand.CostTowers(EmbeddingPlan.Create(config), s.Towers, null), Options, Say);
                return 0;
            }
            string checkpoint = Path.Combine(dir, "flat-ckpt");
            var flat = TrainingRun.Run(config, Options(checkpoint));
            Say($"flat DLRM: AUC {flat.Auc:F4}, log loss {flat.LogLoss:F4}, {flat.SamplesPerSecond:N0} samples/s");

            var partition = TowerPartitioning.FromCheckpoint(config, checkpoint, s.Towers);
            if (!s.Json) TowersCommand.WritePartition(partition, o);

            var plan = EmbeddingPlan.Create(config);
            var dmt = TowerRun.Train(config, Options(), partition.Plan, s.Module, parallel: true);
            Say($"DMT partitioner towers: AUC {dmt.Summary.Auc:F4} ({dmt.Summary.Auc - flat.Auc:+0.0000;-0.0000} vs flat), {dmt.Summary.SamplesPerSecond:N0} samples/s");
            var randoms = new List<(int Seed, TowerRun Run, double Kept)>();
            foreach (int seed in s.RandomSeeds)
            {
                var randomPlan = TowerPlan.FromAssignment(plan, TowerPartitioner.RandomLike(partition.TowerOfTable, new Random(seed)));
                var run = TowerRun.Train(config, Options(), randomPlan, s.Module, parallel: true);
                double kept = TowerPartitioner.KeptShare(randomPlan.TowerOfTable(plan), partition.NodeWeights);
                randoms.Add((seed, run, kept));
                Say($"DMT random towers (seed {seed}, kept interaction {kept:F4}): AUC {run.Summary.Auc:F4} ({run.Summary.Auc - flat.Auc:+0.0000;-0.0000} vs flat)");
            }

            // Flat traffic as counted by the same executor: identity towers send every pooled vector.
            var identity = TowerRun.Train(config, Options(maxBatches: 20, withEval: false), partition.Plan, new TowerModuleConfig(TowerModuleKind.Identity), parallel: true);
            double flatPlanned = new TableWiseSharding().Plan(CostEstimator.Estimate(plan), new ClusterTopology(1, 1), 1).BoundaryBytesPerSample;
            Say($"bytes per sample crossing the embedding/dense boundary: flat counted {identity.CountedBytesPerSample:N1} vs plan {flatPlanned:N1} ({identity.CountedBytesPerSample / flatPlanned - 1:+0.0%;-0.0%}); " +
                $"DMT counted {dmt.CountedBytesPerSample:N1} vs plan {dmt.PlannedBytesPerSample:N1} ({dmt.Difference:+0.0%;-0.0%}); DMT/flat {dmt.CountedBytesPerSample / identity.CountedBytesPerSample:F3}");

            var speeds = Throughput(config, s, partition.Plan, Options, Say);

            if (s.Json)
            {
                o.WriteLine(JsonSerializer.Serialize(new
                {
                    best_auc = data.BestAuc,
                    flat = new { flat.Auc, flat.LogLoss, flat.SamplesPerSecond, counted_bytes_per_sample = identity.CountedBytesPerSample, planned_bytes_per_sample = flatPlanned },
                    partition = TowersCommand.PartitionJson(partition),
                    dmt = new { dmt.Summary.Auc, dmt.Summary.LogLoss, dmt.Summary.SamplesPerSecond, traffic = dmt.TrafficJson() },
                    random = randoms.Select(r => new { r.Seed, r.Kept, r.Run.Summary.Auc, r.Run.Summary.LogLoss }),
                    throughput = speeds.Select(x => new { x.Name, x.SamplesPerSecond }),
                }, ShardingReport.JsonOptions));
            }
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        void Say(string line) => (s.Json ? err : o).WriteLine(line);
    }

    /// <summary>Flat, tower-parallel, tower-sequential and identity towers (parallel) on the same first batches, interleaved, two rounds.</summary>
    private static List<(string Name, double SamplesPerSecond)> Throughput(ModelConfig config, Settings s, TowerPlan towers,
        Func<string?, long?, bool, TrainOptions> options, Action<string> say)
    {
        var speeds = new List<(string Name, double SamplesPerSecond)>();
        for (int round = 0; round < 2; round++)
        {
            speeds.Add(("flat", TrainingRun.Run(config, options(null, s.SpeedBatches, false)).SamplesPerSecond));
            speeds.Add(("tower-parallel", TowerRun.Train(config, options(null, s.SpeedBatches, false), towers, s.Module, parallel: true).Summary.SamplesPerSecond));
            speeds.Add(("tower-sequential", TowerRun.Train(config, options(null, s.SpeedBatches, false), towers, s.Module, parallel: false).Summary.SamplesPerSecond));
            // The flat model itself on the tower executor (identity modules): separates the execution from the model change.
            speeds.Add(("identity-parallel", TowerRun.Train(config, options(null, s.SpeedBatches, false), towers, new TowerModuleConfig(TowerModuleKind.Identity), parallel: true).Summary.SamplesPerSecond));
        }
        double Mean(string name) => speeds.Where(x => x.Name == name).Average(x => x.SamplesPerSecond);
        say($"throughput ({s.SpeedBatches} batches x 2 rounds): flat {Mean("flat"):N0}, tower-parallel {Mean("tower-parallel"):N0}, tower-sequential {Mean("tower-sequential"):N0}, " +
            $"identity towers parallel {Mean("identity-parallel"):N0} samples/s; tower-parallel/flat {Mean("tower-parallel") / Mean("flat"):F2}x, " +
            $"tower-parallel/tower-sequential {Mean("tower-parallel") / Mean("tower-sequential"):F2}x, identity-parallel/flat {Mean("identity-parallel") / Mean("flat"):F2}x " +
            $"(each run: {string.Join(", ", speeds.Select(x => $"{x.Name} {x.SamplesPerSecond:N0}"))})");
        return speeds;
    }

    private static SyntheticResult Generate(Settings s, string dir, string train, string eval)
    {
        string all = Path.Combine(dir, "all.tsv");
        var result = new SyntheticCtrGenerator(new SyntheticOptions { Rows = s.Rows + s.EvalRows, Seed = s.Seed, MaxCardinality = s.Cardinality, Threads = s.Threads }).GenerateFile(all);
        using (var reader = new StreamReader(all))
        using (var a = new StreamWriter(train))
        using (var b = new StreamWriter(eval))
        {
            long n = 0;
            while (reader.ReadLine() is { } line) (n++ < s.Rows ? a : b).WriteLine(line);
        }
        File.Delete(all);
        return result;
    }

    /// <summary>criteo-full's features, optimizers and DLRM (13-512-256-16 / top 512-256-1), every table capped at <paramref name="cardinality"/> rows.</summary>
    private static ModelConfig BuiltInConfig(long cardinality)
    {
        long[] criteo =
        [
            1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194,
            27, 14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572,
        ];
        var features = string.Join("\n", criteo.Select((n, i) => $"  - {{name: C{i + 1}, cardinality: {Math.Min(n, cardinality)}}}"));
        return ModelConfig.Parse($"""
            name: criteo-towers-bench
            dense_features: [I1, I2, I3, I4, I5, I6, I7, I8, I9, I10, I11, I12, I13]
            embedding_dim: 16
            hash_seed: 1
            sparse_features:
            {features}
            default_table: {"{family: full}"}
            optimizer: {"{kind: rowwise_adagrad, learning_rate: 0.05, eps: 1.0e-8}"}
            dense_optimizer: {"{kind: adam, learning_rate: 0.001}"}
            """);
    }
}
