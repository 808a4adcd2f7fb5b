using Confluent.Kafka;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Synthetic;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Streaming.Producing;
using RecsysEmbed.Streaming.Training;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Checkpoints;
using RecsysEmbed.Tests.TestData;

namespace RecsysEmbed.Tests.Streaming;

/// <summary>A tiny model config, a small generated click log, and helpers to fill topics and compare checkpoints.</summary>
internal sealed class StreamFixture : IDisposable
{
    public const int BatchRecords = 128;
    public static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(120);

    // 26 Criteo features over a small unified table plus one full table; tiny MLPs, so a step costs little.
    public static readonly string Yaml = $$"""
        name: tiny-stream
        {{CriteoTestSchema.DenseFeatures}}
        embedding_dim: 4
        {{CriteoTestSchema.SparseFeatures(("C1", "cardinality: 2000"))}}
        tables:
          - {name: c1, family: full, features: [C1]}
        default_table: {family: ue, buckets: 2048}
        optimizer: {kind: adam, learning_rate: 0.01}
        dense_optimizer: {kind: adam, learning_rate: 0.003}
        model: {kind: dlrm, bottom_mlp: [8], top_mlp: [8]}
        training: {batch_size: 128, seed: 3}
        """;

    public StreamFixture(int rows = 2000)
    {
        Directory.CreateDirectory(Dir);
        ConfigPath = Path.Combine(Dir, "tiny-stream.yaml");
        File.WriteAllText(ConfigPath, Yaml);
        DataPath = Path.Combine(Dir, "train.tsv");
        new SyntheticCtrGenerator(new SyntheticOptions { Schema = SyntheticSchemaKind.Criteo, Rows = rows, Seed = 11, MaxCardinality = 2000, Threads = 1, ComputeBestAuc = false })
            .GenerateFile(DataPath);
        Rows = rows;
    }

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), $"recsys-stream-{Guid.NewGuid():N}");
    public string ConfigPath { get; }
    public string DataPath { get; }
    public long Rows { get; }
    public ModelConfig Config => ModelConfig.Parse(Yaml);

    public string NewDir(string name) => Path.Combine(Dir, $"{name}-{Guid.NewGuid():N}");

    /// <summary>Replays the click log into <paramref name="topic"/> (record ids 0..rows-1).</summary>
    public ReplayReport Produce(KafkaEndpoint endpoint, string topic, long? maxRecords = null, long firstId = 0)
    {
        using var reader = CtrReaders.Open(DataPath, "criteo", new CtrReaderOptions(), null);
        return ReplayProducer.Run(reader, endpoint, new ReplayOptions { Topic = topic, MaxRecords = maxRecords, FirstRecordId = firstId });
    }

    public StreamTrainerOptions Options(string topic, string group, string checkpoint) => new()
    {
        Topic = topic, GroupId = group, CheckpointDir = checkpoint, BatchRecords = BatchRecords, Threads = 1,
        CheckpointEveryBatches = 3, CheckpointIntervalMs = 0, TrackRecordIds = true, PollMs = 50,
    };

    public static IProducer<byte[]?, byte[]?> RawProducer(string bootstrap) =>
        new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true, Acks = Acks.All }).Build();

    /// <summary>Every entry of the newest checkpoint in each directory, byte for byte (model, optimizer, vocabularies, ids).</summary>
    public static void AssertSameCheckpoint(string expectedDir, string actualDir)
    {
        var expected = CheckpointReader.OpenLatest(expectedDir);
        var actual = CheckpointReader.OpenLatest(actualDir);
        Assert.Equal(expected.Entries.Select(e => e.Name), actual.Entries.Select(e => e.Name));
        foreach (var entry in expected.Entries)
            Assert.True(expected.ReadBytes(entry.Name).AsSpan().SequenceEqual(actual.ReadBytes(entry.Name)), $"checkpoint entry {entry.Name} differs");
    }

    public static IReadOnlyList<long> TrainedIds(string checkpointDir) => StreamState.RecordIdsOf(CheckpointReader.OpenLatest(checkpointDir));

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
