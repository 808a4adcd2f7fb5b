using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Synthetic;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Checkpoints;
using RecsysEmbed.Tests.TestData;

namespace RecsysEmbed.Tests.Serving;

/// <summary>
/// A real training checkpoint, made once per test class by TrainingRun on a small generated Criteo log, with one
/// table of every family (full, qr, md with projections, multi-hash, unified). Also the reference: the trainer
/// restored from that checkpoint, whose tables' forward is what the service must return.
/// </summary>
public sealed class TrainedModelFixture : IDisposable
{
    public static readonly string Yaml = $$"""
        name: serving-tiny
        {{CriteoTestSchema.DenseFeatures}}
        embedding_dim: 8
        {{CriteoTestSchema.SparseFeatures(("C1", "cardinality: 400"), ("C2", "cardinality: 400, pooling: mean"), ("C3", "cardinality: 400"))}}
        tables:
          - {name: t_full, family: full, features: [C1]}
          - {name: t_qr, family: qr, features: [C2], collisions: 4, combine: mult}
          - {name: t_md, family: md, features: [C3], hot_rows: 50, hot_dim: 8, tail_dim: 4}
          - {name: t_hash, family: hash, features: [C4, C5], buckets: 257, hashes: 2, combine: sum}
          - {name: t_ue, family: ue, features: [{name: C6, chunks: 2}, C7, C8, C9, C10, C11, C12, C13, C14, C15, C16, C17, C18, C19, C20, C21, C22, C23, C24, C25, C26], buckets: 2048}
        optimizer: {kind: adam, learning_rate: 0.02}
        dense_optimizer: {kind: adam, learning_rate: 0.003}
        model: {kind: dlrm, bottom_mlp: [8], top_mlp: [8]}
        training: {batch_size: 128, seed: 3}
        """;

    public TrainedModelFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), $"recsys-serving-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(Directory);
        DataPath = Path.Combine(Directory, "train.tsv");
        new SyntheticCtrGenerator(new SyntheticOptions { Schema = SyntheticSchemaKind.Criteo, Rows = 1500, Seed = 7, MaxCardinality = 600, Threads = 1, ComputeBestAuc = false })
            .GenerateFile(DataPath);
        ConfigPath = Path.Combine(Directory, "model.yaml");
        File.WriteAllText(ConfigPath, Yaml);
        CheckpointDirectory = Path.Combine(Directory, "checkpoints");
        TrainingRun.Run(Config, new TrainOptions { TrainPath = DataPath, Epochs = 1, Threads = 1, CheckpointDir = CheckpointDirectory });
        Lines = File.ReadAllLines(DataPath);
    }

    public string Directory { get; }
    public string DataPath { get; }
    public string ConfigPath { get; }
    public string CheckpointDirectory { get; }
    public string[] Lines { get; }
    public ModelConfig Config => ModelConfig.Parse(Yaml);

    public CheckpointReader OpenCheckpoint() => CheckpointReader.OpenLatest(CheckpointDirectory);

    /// <summary>Categorical raw values of line i (26 strings, empty = missing).</summary>
    public string[] RawCategoricals(int line) => Lines[line].Split('\t')[14..40];

    /// <summary>
    /// What training computes for lines [start, start + count): the restored trainer's pooled embeddings
    /// (B x Width, EmbeddingCollection order), its predictions, and the reader's dense features (B x 13).
    /// </summary>
    public (float[] Embeddings, float[] Predictions, float[] Dense, int Width) Reference(int start, int count)
    {
        var config = Config;
        var plan = EmbeddingPlan.Create(config);
        using var trainer = TrainingRun.BuildTrainer(config, plan, threads: 1);
        var vocabularies = FeatureVocabularies.For(plan);
        TrainingCheckpoint.Restore(OpenCheckpoint(), trainer, vocabularies, new RunState());
        string slice = Path.Combine(Directory, $"slice-{Guid.NewGuid():N}.tsv");
        File.WriteAllLines(slice, Lines[start..(start + count)]);
        using var reader = CtrReaders.Open(slice, "criteo", new CtrReaderOptions(), null);
        var builder = reader.CreateBuilder();
        Assert.True(reader.TryReadBatch(builder, count, out var batch, null));
        vocabularies.Apply(batch!.Sparse);
        var emb = new float[count * trainer.Tables.Width];
        trainer.Tables.Forward(batch.Sparse, emb);
        var predictions = new float[count];
        trainer.Predict(batch.Sparse, batch.Dense, predictions);
        return (emb, predictions, batch.Dense[..(count * 13)].ToArray(), trainer.Tables.Width);
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
