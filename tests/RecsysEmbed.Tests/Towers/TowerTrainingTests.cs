using RecsysEmbed.Cli;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Data.Synthetic;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Checkpoints;
using RecsysEmbed.Towers;
using RecsysEmbed.Towers.Planning;
using TorchSharp;

namespace RecsysEmbed.Tests.Towers;

/// <summary>
/// Tests that compare two training runs byte for byte: torch's RNG (module init) and thread count are process-wide,
/// so these run alone, never beside tests that seed torch or change its threads.
/// </summary>
[CollectionDefinition(nameof(TorchGlobalStateCollection), DisableParallelization = true)]
public sealed class TorchGlobalStateCollection { }

/// <summary>
/// The tower model through the training loop, checkpoints and CLI of the training issue, on a small generated
/// Criteo-schema log (one thread per tower, torch on one thread: deterministic).
/// </summary>
[Collection(nameof(TorchGlobalStateCollection))]
public sealed class TowerTrainingTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"recsys-towers-{Guid.NewGuid():N}");
    private readonly string _train, _eval, _configPath;

    private static readonly string Yaml = $$"""
        name: towers-tiny
        dense_features: [I1, I2, I3, I4, I5, I6, I7, I8, I9, I10, I11, I12, I13]
        embedding_dim: 4
        sparse_features:
        {{string.Join("\n", Enumerable.Range(1, 26).Select(i => $"  - {{name: C{i}, cardinality: 500}}"))}}
        default_table: {family: full}
        optimizer: {kind: adagrad, learning_rate: 0.05}
        dense_optimizer: {kind: adam, learning_rate: 0.003}
        model: {kind: dlrm, bottom_mlp: [8], top_mlp: [8]}
        training: {batch_size: 256, seed: 3}
        """;

    public TowerTrainingTests()
    {
        Directory.CreateDirectory(_dir);
        string all = Path.Combine(_dir, "all.tsv");
        new SyntheticCtrGenerator(new SyntheticOptions { Schema = SyntheticSchemaKind.Criteo, Rows = 4000, Seed = 5, MaxCardinality = 500, Threads = 1 }).GenerateFile(all);
        var lines = File.ReadAllLines(all);
        _train = Path.Combine(_dir, "train.tsv");
        _eval = Path.Combine(_dir, "eval.tsv");
        File.WriteAllLines(_train, lines[..3000]);
        File.WriteAllLines(_eval, lines[3000..]);
        _configPath = Path.Combine(_dir, "towers.yaml");
        File.WriteAllText(_configPath, Yaml);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ModelConfig Config => ModelConfig.Parse(Yaml);

    private TrainOptions Options(string? checkpoint = null, string? resume = null, long? maxBatches = null) => new()
    {
        TrainPath = _train, EvalPath = _eval, Epochs = 2, Threads = 1, CheckpointDir = checkpoint, ResumeDir = resume, MaxBatches = maxBatches, CheckpointEveryBatches = 5,
    };

    private static ICtrTrainer Towers(ModelConfig config, EmbeddingPlan plan, int threads) =>
        TowerTrainer.Build(config, plan, TowerPlan.FromAssignment(plan, Enumerable.Range(0, 26).Select(i => i % 3).ToArray()),
                           new TowerModuleConfig(TowerModuleKind.DotMlp, OutputVectors: 2, Hidden: 8), threads, parallel: true);

    [Fact]
    public void TrainingRun_TrainsTheTowerModel_AndResumesToTheSameWeights()
    {
        string straightDir = Path.Combine(_dir, "straight"), splitDir = Path.Combine(_dir, "split");
        var straight = TrainingRun.Run(Config, Options(checkpoint: straightDir), buildTrainer: Towers);
        Assert.Equal(6000, straight.TrainSamples);
        Assert.True(straight.Auc is > 0 and < 1 && straight.LogLoss is > 0, "held-out metrics of the tower model");

        var first = TrainingRun.Run(Config, Options(checkpoint: splitDir, maxBatches: 17), buildTrainer: Towers);
        Assert.Equal(17, first.Batches);
        var resumed = TrainingRun.Run(Config, Options(checkpoint: splitDir, resume: splitDir), buildTrainer: Towers);
        Assert.Equal(17, resumed.ResumedFromStep);

        var a = CheckpointReader.OpenLatest(straightDir);
        var b = CheckpointReader.OpenLatest(splitDir);
        Assert.Contains(a.Entries, e => e.Name.StartsWith("towers/tower2/model", StringComparison.Ordinal));
        foreach (var entry in a.Entries)
            Assert.True(a.ReadBytes(entry.Name).AsSpan().SequenceEqual(b.ReadBytes(entry.Name)), $"checkpoint entry {entry.Name} differs");
        Assert.Equal(straight.Auc, resumed.Auc);
    }

    [Fact]
    public void InteractionStrength_IsThePairColumnNormTimesTheMeanDot()
    {
        var config = Config;
        string checkpoint = Path.Combine(_dir, "flat");
        TrainingRun.Run(config, Options(checkpoint: checkpoint) with { Epochs = 1, EvalPath = null });
        var (features, strength) = InteractionStrength.FromCheckpoint(config, checkpoint);
        Assert.Equal(26, features.Count);
        for (int i = 0; i < 26; i++)
        {
            Assert.Equal(0, strength[i, i]);
            for (int j = 0; j < 26; j++) Assert.Equal(strength[i, j], strength[j, i]);
        }
        Assert.All(Enumerable.Range(1, 25), j => Assert.True(strength[0, j] > 0));

        // Scale the first top layer's column of pair (C2, C1) by 3 and zero that of (C3, C1): the strengths follow.
        var plan = EmbeddingPlan.Create(config);
        using var trainer = TrainingRun.BuildTrainer(config, plan, 1);
        var vocabularies = FeatureVocabularies.For(plan);
        TrainingCheckpoint.Restore(CheckpointReader.OpenLatest(checkpoint), trainer, vocabularies, new RunState());
        var w1 = trainer.Model.Module.named_parameters().Single(p => p.name.EndsWith("top_linear0.weight", StringComparison.Ordinal)).parameter;
        using (torch.no_grad())
        {
            // DlrmModel's pairs: (1,0) (2,0) (2,1) (3,0) (3,1) ...; vector 0 is the bottom MLP, so (C2, C1) = (2,1) is pair 2 and (C3, C1) = (3,1) pair 4.
            w1[.., 4 + 2].mul_(3);
            w1[.., 4 + 4].zero_();
        }
        var (_, changed) = InteractionStrength.FromTrainer(trainer, vocabularies);
        Assert.Equal(3 * strength[1, 0], changed[1, 0], 1e-9 * Math.Max(1, strength[1, 0]));
        Assert.Equal(0, changed[2, 0]);
        Assert.Equal(strength[5, 3], changed[5, 3], 1e-12);
    }

    [Fact]
    public void Cli_PartitionsACheckpoint_ThenTrainsThoseTowers()
    {
        string checkpoint = Path.Combine(_dir, "cli-flat");
        TrainingRun.Run(Config, Options(checkpoint: checkpoint) with { Epochs = 1, EvalPath = null });
        string planPath = Path.Combine(_dir, "towers.json");
        var (code, stdout, stderr) = Run("towers", "partition", "--checkpoint", checkpoint, "--config", _configPath, "--towers", "3", "--out", planPath, "--random-trials", "20");
        Assert.True(code == 0, stderr);
        Assert.Contains("partitioner", stdout);
        Assert.Contains("round-robin", stdout);
        Assert.Contains("random (mean of 20)", stdout);
        var towerPlan = TowerPlan.FromJson(File.ReadAllText(planPath));
        Assert.Equal(3, towerPlan.Towers.Count);
        Assert.Equal(26, towerPlan.Towers.Sum(t => t.Features.Count));

        // The checkpoint carries its config, so `--config` may be left out: the same towers come back.
        string planFromCheckpoint = Path.Combine(_dir, "towers-no-config.json");
        (code, _, stderr) = Run("towers", "partition", "--checkpoint", checkpoint, "--towers", "3", "--out", planFromCheckpoint, "--random-trials", "20");
        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllText(planPath), File.ReadAllText(planFromCheckpoint));

        // The same towers placed on 3 hosts by `plan`.
        (code, stdout, stderr) = Run("plan", "--config", _configPath, "--hosts", "3", "--workers-per-host", "1", "--towers", "3", "--partition", planPath, "--json");
        Assert.True(code == 0, stderr);
        using (var placed = System.Text.Json.JsonDocument.Parse(stdout))
        {
            var placedTowers = placed.RootElement.GetProperty("towers").EnumerateArray().ToArray();
            for (int t = 0; t < 3; t++)
                Assert.Equal(towerPlan.Towers[t].Tables.Order(), placedTowers[t].GetProperty("tables").EnumerateArray().Select(x => x.GetString()!).Order());
        }

        (code, stdout, stderr) = Run("towers", "train", "--config", _configPath, "--train", _train, "--partition", planPath, "--max-batches", "3", "--threads", "1", "--json");
        Assert.True(code == 0, stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        var traffic = doc.RootElement.GetProperty("traffic");
        Assert.Equal(768, traffic.GetProperty("training_samples").GetInt64());
        // Synthetic Criteo rows miss some values, the plan assumes one id per bag: within 5%.
        Assert.InRange(traffic.GetProperty("difference").GetDouble(), -0.05, 0.0);
    }

    [Fact]
    public void Cli_RefusesBadTowerArguments()
    {
        var (code, _, stderr) = Run("towers", "train", "--config", _configPath, "--train", _train, "--towers", "3", "--tower-module", "mlp");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--tower-module: 'mlp'", stderr);
        (code, _, stderr) = Run("towers", "train", "--config", _configPath, "--train", _train, "--towers", "40");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--towers: 40", stderr);
    }

    internal static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
