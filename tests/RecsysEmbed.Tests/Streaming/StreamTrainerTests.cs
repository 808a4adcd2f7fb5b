using System.Text;
using Confluent.Kafka;
using RecsysEmbed.Core.Updates;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Streaming.Training;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Checkpoints;

namespace RecsysEmbed.Tests.Streaming;

/// <summary>The stream trainer against the embedded broker (127.0.0.1), one thread so results are exact.</summary>
public sealed class StreamTrainerTests : IDisposable
{
    private readonly StreamFixture _f = new(rows: 1500);

    public void Dispose() => _f.Dispose();

    [Fact]
    public void OnePartition_TrainsEveryRecordOnce_AndEqualsOfflineTrainingWithTheSameBatches()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("imp", 1);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        var produced = _f.Produce(endpoint, "imp");
        Assert.Equal(_f.Rows, produced.Acknowledged);

        string dir = _f.NewDir("stream");
        var events = new List<StreamEvent>();
        StreamTrainerReport report;
        using (var trainer = new StreamTrainer(_f.Config, endpoint, _f.Options("imp", "g1", dir) with { StopAfterRecords = _f.Rows }, events.Add))
            report = trainer.Run();
        Assert.Equal(_f.Rows, report.RecordsTrained);
        Assert.Equal(0, report.RecordsDeadLettered + report.RecordsLost);
        Assert.Equal(Enumerable.Range(0, (int)_f.Rows).Select(i => (long)i), StreamFixture.TrainedIds(dir));
        Assert.Equal((_f.Rows + StreamFixture.BatchRecords - 1) / StreamFixture.BatchRecords, report.Batches);
        Assert.InRange(report.ProgressiveAuc, 0.5, 1.0);

        // Offline, same file, same batch size, one thread: the same batches in the same order give the same model.
        string offline = _f.NewDir("offline");
        TrainingRun.Run(_f.Config, new TrainOptions { TrainPath = _f.DataPath, Format = "criteo", BatchSize = StreamFixture.BatchRecords, Threads = 1, CheckpointDir = offline });
        var a = CheckpointReader.OpenLatest(offline);
        var b = CheckpointReader.OpenLatest(dir);
        foreach (var entry in a.Entries)
            Assert.True(a.ReadBytes(entry.Name).AsSpan().SequenceEqual(b.ReadBytes(entry.Name)), $"entry {entry.Name} differs from offline training");

        // The offsets were committed to the group after the checkpoint.
        using var probe = new ConsumerBuilder<Ignore, Ignore>(endpoint.ConsumerConfig("g1")).Build();
        Assert.Equal(_f.Rows, probe.Committed([new TopicPartition("imp", 0)], StreamFixture.HangGuard)[0].Offset.Value);
    }

    [Fact]
    public void MalformedRecords_GoToTheDeadLetterTopic_WithHeaders_AndTrainingContinues()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("imp", 1);
        kafka.CreateTopic("imp.dlq", 1);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        _f.Produce(endpoint, "imp", maxRecords: 300);
        var bad = new (string Name, byte[]? Value)[]
        {
            ("garbage", Encoding.UTF8.GetBytes("not a record")),
            ("tombstone", null),
            ("oversized", new byte[70_000]),
            ("label", WithLabel(2f)),
        };
        using (var raw = StreamFixture.RawProducer(kafka.BootstrapServers))
        {
            foreach (var (_, value) in bad) raw.Produce("imp", new Message<byte[]?, byte[]?> { Value = value });
            Assert.Equal(0, raw.Flush(StreamFixture.HangGuard));
        }
        _f.Produce(endpoint, "imp", maxRecords: 200, firstId: 300);
        long total = 300 + bad.Length + 200;

        string dir = _f.NewDir("dlq");
        StreamTrainerReport report;
        using (var trainer = new StreamTrainer(_f.Config, endpoint, _f.Options("imp", "g", dir) with { StopAfterRecords = total, MaxRecordBytes = 64 << 10 }))
            report = trainer.Run();
        Assert.Equal(500, report.RecordsTrained);
        Assert.Equal(bad.Length, report.RecordsDeadLettered);
        Assert.Equal(Enumerable.Range(0, 500).Select(i => (long)i), StreamFixture.TrainedIds(dir));

        var letters = EmbeddedKafkaTests.ConsumeAllBytes(kafka.BootstrapServers, "imp.dlq", bad.Length);
        Assert.Equal(bad.Length, letters.Count);
        for (int i = 0; i < bad.Length; i++)
        {
            var h = letters[i].Message.Headers;
            string Header(string key) => Encoding.UTF8.GetString(h.GetLastBytes(key));
            Assert.Equal("imp", Header("source.topic"));
            Assert.Equal("0", Header("source.partition"));
            Assert.Equal((300 + i).ToString(), Header("source.offset"));
            Assert.False(string.IsNullOrEmpty(Header("error")));
            Assert.Equal(bad[i].Value ?? [], letters[i].Message.Value ?? []);
        }
        Assert.Contains("label", Encoding.UTF8.GetString(letters[3].Message.Headers.GetLastBytes("error")));
        Assert.Contains("exceeds", Encoding.UTF8.GetString(letters[2].Message.Headers.GetLastBytes("error")));
    }

    [Fact]
    public void Restart_SeeksToTheCheckpoint_ReportsADisagreeingGroupCommit_AndEndsEqualToOneRun()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("imp", 1);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        _f.Produce(endpoint, "imp");

        string whole = _f.NewDir("whole");
        using (var t = new StreamTrainer(_f.Config, endpoint, _f.Options("imp", "g-whole", whole) with { StopAfterRecords = _f.Rows })) t.Run();

        // First part: cancelled after 5 batches (a graceful stop checkpoints at a block boundary).
        string parts = _f.NewDir("parts");
        using (var stop = new CancellationTokenSource())
        using (var t = new StreamTrainer(_f.Config, endpoint, _f.Options("imp", "g-parts", parts), e => { if (e.Kind == StreamEventKind.Batch && e.Batches >= 5) stop.Cancel(); }))
            t.Run(stop.Token);
        long checkpointed = StreamFixture.TrainedIds(parts).Count;
        Assert.Equal(5 * StreamFixture.BatchRecords, checkpointed);

        // Someone moves the group's offset; the checkpoint wins, and the move is reported.
        var moverConfig = endpoint.ConsumerConfig("g-parts");
        moverConfig.EnableAutoCommit = false;
        using (var mover = new ConsumerBuilder<Ignore, Ignore>(moverConfig).Build())
        {
            mover.Subscribe("imp");
            var deadline = DateTime.UtcNow + StreamFixture.HangGuard;
            while (mover.Assignment.Count == 0 && DateTime.UtcNow < deadline) mover.Consume(100);
            mover.Commit([new TopicPartitionOffset("imp", 0, 17)]);
            mover.Close();
        }
        var events = new List<StreamEvent>();
        using (var t = new StreamTrainer(_f.Config, endpoint, _f.Options("imp", "g-parts", parts) with { StopAfterRecords = _f.Rows }, events.Add))
        {
            var report = t.Run();
            Assert.Equal(_f.Rows, report.RecordsTrained);
        }
        Assert.Contains(events, e => e.Kind == StreamEventKind.Resumed);
        var disagreement = Assert.Single(events, e => e.Kind == StreamEventKind.OffsetDisagreement);
        Assert.Contains($"checkpoint offset {checkpointed}", disagreement.Message);
        Assert.Contains("group committed 17", disagreement.Message);
        StreamFixture.AssertSameCheckpoint(whole, parts);
    }

    [Fact]
    public void PublishedUpdates_ReplayToTheFinalModel_WithIncreasingVersions()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("imp", 1);
        kafka.CreateTopic("upd", 3);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        _f.Produce(endpoint, "imp", maxRecords: 600);
        string dir = _f.NewDir("pub");
        var rows = new Dictionary<(string, long), (long Version, float[] Values)>();
        using var trainer = new StreamTrainer(_f.Config, endpoint, _f.Options("imp", "g", dir) with { StopAfterRecords = 600, PublishTopic = "upd", PublishIntervalMs = 0 });
        var report = trainer.Run();
        Assert.True(report.Publications >= 2);
        Assert.NotNull(report.FreshnessP50Ms);

        var records = EmbeddedKafkaTests.ConsumeAllBytes(kafka.BootstrapServers, "upd", (int)(report.RowsPublished + report.Publications + report.VocabularyRecordsPublished));
        long denseVersion = -1;
        var vocabulary = new Dictionary<(string Feature, long Index), long>();
        foreach (var r in records)
        {
            byte kind = EmbeddingUpdateCodec.KindOf(r.Message.Key);
            if (kind == EmbeddingUpdateCodec.VocabularyKind)
            {
                var v = EmbeddingUpdateCodec.DecodeVocabulary(r.Message.Key, r.Message.Value);
                for (int i = 0; i < v.Ids.Length; i++) vocabulary[(v.Feature, v.FirstIndex + i)] = v.Ids.Span[i];
            }
            else if (kind == EmbeddingUpdateCodec.RowKind)
            {
                var u = EmbeddingUpdateCodec.DecodeRow(r.Message.Key, r.Message.Value);
                if (rows.TryGetValue((u.Table, u.Row), out var previous)) Assert.True(u.ModelVersion > previous.Version, "a row's version went backwards within its partition");
                rows[(u.Table, u.Row)] = (u.ModelVersion, u.Values.ToArray());
            }
            else
            {
                var d = EmbeddingUpdateCodec.DecodeDense(r.Message.Value);
                Assert.True(d.ModelVersion > denseVersion);
                denseVersion = d.ModelVersion;
                Assert.True(d.Payload.Length > 0);
            }
        }
        // Applying every published row to the initial model gives the final model: each touched row's last update is its final value.
        int checkedRows = 0;
        foreach (var matrix in trainer.Trainer.Tables.Tables.SelectMany(t => t.Matrices))
        {
            for (long row = 0; row < matrix.Rows; row++)
            {
                if (!rows.TryGetValue((matrix.Name, row), out var u)) continue;
                Assert.Equal(matrix.Row(row).ToArray(), u.Values);
                checkedRows++;
            }
        }
        Assert.Equal(rows.Count, checkedRows);
        Assert.True(checkedRows > 100);
        // The published vocabulary records name the owner of every index the trainer assigned (C1's full table).
        Assert.True(report.VocabularyRecordsPublished > 0);
        var c1 = trainer.Vocabularies.All.Single(v => v.FeatureName == "C1");
        Assert.True(c1.Count > 10);
        Assert.Equal(c1.Count, vocabulary.Keys.Count(k => k.Feature == "C1"));
        foreach (var (id, index) in c1.Entries()) Assert.Equal(id, vocabulary[("C1", index)]);
    }

    private byte[] WithLabel(float label)
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("one", 1);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        _f.Produce(endpoint, "one", maxRecords: 1);
        var value = EmbeddedKafkaTests.ConsumeAllBytes(kafka.BootstrapServers, "one", 1)[0].Message.Value!;
        BitConverter.TryWriteBytes(value.AsSpan(9), label);
        return value;
    }
}
