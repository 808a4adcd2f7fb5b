using System.Text.Json;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Data.Synthetic;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Checkpoints;
using RecsysEmbed.Tests.TestData;

namespace RecsysEmbed.Tests.Training;

/// <summary>End-to-end training runs on a small generated click log (one thread, so results are deterministic).</summary>
public sealed class TrainingRunTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"recsys-train-{Guid.NewGuid():N}");
    private readonly string _train, _eval;

    // Small model: 26 Criteo features over a 4096-bucket unified table and one full table, tiny MLPs.
    private static readonly string Yaml = YamlWithTables([("C1", "cardinality: 2000")], "- {name: c1, family: full, features: [C1]}");

    // The same with low-precision tables: C1 in int8 rows (one per id), C2 in fp16 rows hashed into 512.
    private static readonly string LowPrecisionYaml = YamlWithTables(
        [("C1", "cardinality: 2000"), ("C2", "cardinality: 2000")],
        "- {name: c1, family: lp, precision: int8, features: [C1]}",
        "- {name: c2, family: lp, buckets: 512, features: [C2]}");

    private static string YamlWithTables((string Name, string Keys)[] features, params string[] tables) => $$"""
        name: tiny
        {{CriteoTestSchema.DenseFeatures}}
        embedding_dim: 4
        {{CriteoTestSchema.SparseFeatures(features)}}
        tables:
        {{string.Join("\n", tables.Select(t => "  " + t))}}
        default_table: {family: ue, buckets: 4096}
        optimizer: {kind: adam, learning_rate: 0.01}
        dense_optimizer: {kind: adam, learning_rate: 0.003}
        model: {kind: dlrm, bottom_mlp: [8], top_mlp: [8]}
        training: {batch_size: 256, seed: 3}
        """;

    public TrainingRunTests()
    {
        Directory.CreateDirectory(_dir);
        string all = Path.Combine(_dir, "all.tsv");
        new SyntheticCtrGenerator(new SyntheticOptions { Schema = SyntheticSchemaKind.Criteo, Rows = 6000, Seed = 5, MaxCardinality = 2000, Threads = 1 })
            .GenerateFile(all);
        var lines = File.ReadAllLines(all);
        _train = Path.Combine(_dir, "train.tsv");
        _eval = Path.Combine(_dir, "eval.tsv");
        File.WriteAllLines(_train, lines[..5000]);
        File.WriteAllLines(_eval, lines[5000..]);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ModelConfig Config => ModelConfig.Parse(Yaml);

    private TrainOptions Options(string? checkpoint = null, string? resume = null, long? maxBatches = null, int epochs = 2) => new()
    {
        TrainPath = _train, EvalPath = _eval, Epochs = epochs, Threads = 1, CheckpointDir = checkpoint, ResumeDir = resume,
        MaxBatches = maxBatches, CheckpointEveryBatches = 7,
    };

    [Fact]
    public void Run_LearnsAndReportsEveryFigure()
    {
        var summary = TrainingRun.Run(Config, Options());
        Assert.Equal(10_000, summary.TrainSamples); // 2 epochs x 5000 rows
        Assert.Equal(2 * (int)Math.Ceiling(5000 / 256.0), summary.Batches);
        Assert.Equal(1000, summary.EvalSamples);
        Assert.InRange(summary.Auc!.Value, 0.55, 1.0);   // better than chance on a learnable planted model
        Assert.True(summary.LogLoss > 0 && summary.NormalizedEntropy > 0 && summary.Calibration > 0);
        Assert.Equal(2000L * 4 + 4096L * 4, summary.EmbeddingParameters);
        Assert.True(summary.DenseParameters > 0 && summary.SamplesPerSecond > 0);
    }

    [Fact]
    public void Resume_FromCheckpoint_EndsWithTheSameModelAsAnUninterruptedRun() => AssertResumeEndsLikeUninterrupted(Config);

    [Fact]
    public void Resume_WithLowPrecisionTables_EndsWithTheSameModelAsAnUninterruptedRun()
    {
        var config = ModelConfig.Parse(LowPrecisionYaml);
        var (straight, _) = AssertResumeEndsLikeUninterrupted(config);
        // The lp tables are in the checkpoints compared above (stored bytes, scales, state, step count).
        var lpEntries = straight.Entries.Where(e => e.Kind == CheckpointEntryKind.LowPrecisionTable).Select(e => e.Name).Order().ToArray();
        Assert.Equal(["tables/c1", "tables/c2"], lpEntries);
    }

    /// <summary>Runs straight through, and stopped at batch 27 then resumed; returns both final checkpoints.</summary>
    private (CheckpointReader Straight, CheckpointReader Resumed) AssertResumeEndsLikeUninterrupted(ModelConfig config)
    {
        string straightDir = Path.Combine(_dir, "straight"), splitDir = Path.Combine(_dir, "split");
        var straight = TrainingRun.Run(config, Options(checkpoint: straightDir));

        // Stop mid-epoch (batch 27 of 40, in the second epoch), then resume in a fresh run.
        var first = TrainingRun.Run(config, Options(checkpoint: splitDir, maxBatches: 27));
        Assert.Equal(27, first.Batches);
        var resumed = TrainingRun.Run(config, Options(checkpoint: splitDir, resume: splitDir));
        Assert.Equal(27, resumed.ResumedFromStep);
        Assert.Equal(straight.Batches, resumed.Batches);
        Assert.Equal(straight.TrainSamples, resumed.TrainSamples);

        // Same weights: compare every entry of the two final checkpoints byte for byte.
        var a = CheckpointReader.OpenLatest(straightDir);
        var b = CheckpointReader.OpenLatest(splitDir);
        Assert.True(a.Step == b.Step, $"steps {a.Step} vs {b.Step}; resumed last checkpoint {resumed.LastCheckpoint}; dirs: {string.Join(", ", Directory.GetFileSystemEntries(splitDir).Select(Path.GetFileName))}; LATEST={File.ReadAllText(Path.Combine(splitDir, "LATEST"))}");
        foreach (var entry in a.Entries)
            Assert.True(a.ReadBytes(entry.Name).AsSpan().SequenceEqual(b.ReadBytes(entry.Name)), $"checkpoint entry {entry.Name} differs");
        Assert.Equal(a.Entries.Select(e => e.Name), b.Entries.Select(e => e.Name));
        Assert.Equal(straight.Auc, resumed.Auc);
        return (a, b);
    }

    [Fact]
    public void Resume_RefusesADamagedCheckpointAndFallsBackToThePreviousGoodOne()
    {
        string dir = Path.Combine(_dir, "damaged");
        TrainingRun.Run(Config, Options(checkpoint: dir, maxBatches: 14, epochs: 1)); // checkpoints at 7 and 14
        var latest = CheckpointReader.OpenLatest(dir);
        string victim = Directory.GetFiles(latest.Path, "*.bin").OrderByDescending(f => new FileInfo(f).Length).First();
        using (var f = new FileStream(victim, FileMode.Open)) f.SetLength(f.Length / 2);

        var ex = Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(dir));
        Assert.Contains(Path.GetFileName(victim), ex.Message);
        var resumed = TrainingRun.Run(Config, Options(checkpoint: dir, resume: dir, epochs: 1));
        Assert.Equal(7, resumed.ResumedFromStep);
    }

    [Fact]
    public void Cli_TrainJson_PrintsOneSummaryObject()
    {
        string config = Path.Combine(_dir, "tiny.yaml");
        File.WriteAllText(config, Yaml);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = RecsysEmbed.Cli.Program.Run(["train", "--config", config, "--train", _train, "--eval", _eval, "--threads", "1", "--json"], stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        using var doc = JsonDocument.Parse(stdout.ToString());
        Assert.Equal(5000, doc.RootElement.GetProperty("train_samples").GetInt64());
        Assert.InRange(doc.RootElement.GetProperty("progressive_calibration").GetDouble(), 0.1, 10); // mean pre-update prediction / CTR
        Assert.InRange(doc.RootElement.GetProperty("auc").GetDouble(), 0.5, 1.0);
    }

    /// <summary>The written predictions are the ones the summary scored: same count, AUC and calibration recomputed from the file.</summary>
    [Fact]
    public void Cli_Train_PredictionsOut_WritesOneProbabilityPerHeldOutRowInFileOrder()
    {
        string config = Path.Combine(_dir, "tiny.yaml");
        File.WriteAllText(config, Yaml);
        string predictions = Path.Combine(_dir, "predictions.txt");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = RecsysEmbed.Cli.Program.Run(["train", "--config", config, "--train", _train, "--eval", _eval, "--threads", "1", "--json", "--predictions-out", predictions], stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        using var doc = JsonDocument.Parse(stdout.ToString());
        var p = File.ReadAllLines(predictions).Select(l => float.Parse(l, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var y = File.ReadAllLines(_eval).Select(l => l[0] == '1' ? 1f : 0f).ToArray();
        Assert.Equal(y.Length, p.Length);
        Assert.All(p, q => Assert.InRange(q, 0f, 1f));
        Assert.Equal(doc.RootElement.GetProperty("auc").GetDouble(), RecsysEmbed.Training.Metrics.Auc.Exact(p, y), 12);
        Assert.Equal(doc.RootElement.GetProperty("calibration").GetDouble(), RecsysEmbed.Training.Metrics.CtrLoss.Calibration(p, y), 6);
        Assert.False(File.Exists(predictions + ".tmp"));

        var refused = new StringWriter();
        Assert.Equal(2, RecsysEmbed.Cli.Program.Run(["train", "--config", config, "--train", _train, "--predictions-out", predictions], new StringWriter(), refused));
        Assert.Contains("--predictions-out", refused.ToString());
        Assert.Contains("needs --eval", refused.ToString());
    }

    [Fact]
    public void Cli_Train_SchemaMismatchNamesTheMissingFeatures()
    {
        string config = Path.Combine(_dir, "bad.yaml");
        File.WriteAllText(config, Yaml.Replace("{name: C26}", "{name: user_city}").Replace("C25]", "C25]"));
        var stderr = new StringWriter();
        int code = RecsysEmbed.Cli.Program.Run(["train", "--config", config, "--train", _train, "--threads", "1"], new StringWriter(), stderr);
        Assert.Equal(2, code);
        Assert.Contains("user_city", stderr.ToString());
    }

    [Fact]
    public void Resume_KeepsTheMalformedCountOfTheRunsBefore()
    {
        // Every 100th training line loses its label field: skipped by policy, counted in every run that reads it.
        string dirty = Path.Combine(_dir, "dirty.tsv");
        var lines = File.ReadAllLines(_train).Select((l, i) => i % 100 == 50 ? "x" + l[1..] : l).ToArray();
        File.WriteAllLines(dirty, lines);
        int bad = lines.Count(l => l.StartsWith('x'));
        string dir = Path.Combine(_dir, "dirty-ckpt");
        TrainOptions Dirty(long? max = null, string? resume = null) => Options(checkpoint: dir, resume: resume, maxBatches: max, epochs: 1) with
        {
            TrainPath = dirty, OnMalformed = RecsysEmbed.Data.Readers.MalformedPolicy.Skip,
        };
        var straight = TrainingRun.Run(Config, Dirty() with { CheckpointDir = null });
        Assert.Equal(bad, straight.MalformedSkipped);
        TrainingRun.Run(Config, Dirty(max: 10));
        var resumed = TrainingRun.Run(Config, Dirty(resume: dir));
        Assert.Equal(10, resumed.ResumedFromStep);
        Assert.Equal(bad, resumed.MalformedSkipped);
    }

    [Fact]
    public void Standardize_ChangesTheInputsAndStillLearns()
    {
        var plain = TrainingRun.Run(Config, Options());
        var standardized = TrainingRun.Run(Config, Options() with { Standardize = true });
        Assert.NotEqual(plain.Auc, standardized.Auc);
        Assert.InRange(standardized.Auc!.Value, 0.55, 1.0);
    }
}
