using Confluent.Kafka;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Streaming.Training;

namespace RecsysEmbed.Tests.Streaming;

/// <summary>Rebalances, broker outages and data loss, against the embedded broker with fault injection.</summary>
public sealed class StreamFaultTests : IDisposable
{
    private const int Rows = 1536; // 12 full batches of 128
    private readonly StreamFixture _f = new(Rows);

    public void Dispose() => _f.Dispose();

    /// <summary>Events of one trainer, and a way to wait for one.</summary>
    private sealed class Recorder
    {
        private readonly List<StreamEvent> _events = [];
        public void Add(StreamEvent e) { lock (_events) { _events.Add(e); Monitor.PulseAll(_events); } }
        public long Accounted { get { lock (_events) return _events.Count == 0 ? 0 : _events.Max(e => e.Accounted); } }
        public List<StreamEvent> Events { get { lock (_events) return [.. _events]; } }

        /// <summary>The events other than batches, one per line (the newest <paramref name="last"/> when given), for failure messages.</summary>
        public string Describe(int last = int.MaxValue) =>
            string.Join("\n", Events.Where(e => e.Kind != StreamEventKind.Batch).TakeLast(last).Select(e => $"{e.Kind}: {e.Message}"));

        public StreamEvent WaitFor(Func<StreamEvent, bool> match)
        {
            var deadline = DateTime.UtcNow + StreamFixture.HangGuard;
            lock (_events)
            {
                while (true)
                {
                    foreach (var e in _events) if (match(e)) return e;
                    var left = deadline - DateTime.UtcNow;
                    Assert.True(left > TimeSpan.Zero, "timed out waiting for a trainer event");
                    Monitor.Wait(_events, left);
                }
            }
        }
    }

    /// <summary>Waits for a cancelled trainer to return; on the hang guard, fails with its last events (where it stopped).</summary>
    private static async Task Stopped(Task<StreamTrainerReport> run, Recorder events, string name)
    {
        try
        {
            await run.WaitAsync(StreamFixture.HangGuard);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"trainer {name} did not return within {StreamFixture.HangGuard} of cancellation; its last events:\n{events.Describe(last: 12)}");
        }
    }

    private static List<byte[]> Records(StreamFixture f, string scratchTopic, EmbeddedKafka kafka, KafkaEndpoint endpoint)
    {
        kafka.CreateTopic(scratchTopic, 1);
        f.Produce(endpoint, scratchTopic);
        return EmbeddedKafkaTests.ConsumeAllBytes(kafka.BootstrapServers, scratchTopic, (int)f.Rows).Select(r => r.Message.Value!).ToList();
    }

    [Fact]
    public async Task SecondTrainerJoining_RevokesWithCheckpointAndCommit_AndNoRecordIsLostOrTrainedTwice()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("imp", 2);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        var values = Records(_f, "src", kafka, endpoint);
        using var raw = StreamFixture.RawProducer(kafka.BootstrapServers);
        void ProduceRange(int from, int to)
        {
            for (int i = from; i < to; i++) raw.Produce(new TopicPartition("imp", i % 2), new Message<byte[]?, byte[]?> { Value = values[i] });
            Assert.Equal(0, raw.Flush(StreamFixture.HangGuard));
        }
        ProduceRange(0, Rows / 2);

        string dirA = _f.NewDir("a"), dirB = _f.NewDir("b");
        var a = new Recorder();
        var b = new Recorder();
        using var stop = new CancellationTokenSource();
        using var trainerA = new StreamTrainer(_f.Config, endpoint, _f.Options("imp", "g", dirA) with { CheckpointEveryBatches = 2, CheckpointIntervalMs = 100 }, a.Add);
        var runA = Task.Run(() => trainerA.Run(stop.Token));
        a.WaitFor(e => e.Kind == StreamEventKind.Batch && e.Batches >= 3);

        using var trainerB = new StreamTrainer(_f.Config, endpoint, _f.Options("imp", "g", dirB) with { CheckpointEveryBatches = 2, CheckpointIntervalMs = 100 }, b.Add);
        var runB = Task.Run(() => trainerB.Run(stop.Token));
        a.WaitFor(e => e.Kind == StreamEventKind.Revoked);
        b.WaitFor(e => e.Kind == StreamEventKind.Assigned);
        ProduceRange(Rows / 2, Rows);

        // Both partitions hold 6 full batches; the trainers checkpoint and commit every 2 batches and 100 ms: the group's committed
        // offsets reach the ends once everything is trained.
        using (var probe = new ConsumerBuilder<Ignore, Ignore>(endpoint.ConsumerConfig("g")).Build())
        {
            var deadline = DateTime.UtcNow + StreamFixture.HangGuard;
            List<TopicPartitionOffset> committed;
            while ((committed = probe.Committed([new TopicPartition("imp", 0), new TopicPartition("imp", 1)], StreamFixture.HangGuard)).Any(c => c.Offset.Value != Rows / 2))
            {
                Assert.True(DateTime.UtcNow < deadline, $"committed offsets stayed at {string.Join(", ", committed.Select(c => c.Offset.Value))}\nA: {a.Describe()}\nB: {b.Describe()}");
                await Task.Delay(50); // polling interval of the hang-guarded wait, not a synchronisation
            }
        }
        stop.Cancel();
        await Stopped(runA, a, "A");
        await Stopped(runB, b, "B");

        // The revoke checkpointed before giving the partition up, then committed (events: Checkpoint(revoke), [CommitFailed...], Revoked).
        var eventsA = a.Events;
        int revoke = eventsA.FindIndex(e => e.Kind == StreamEventKind.Revoked);
        var beforeRevoke = eventsA.Take(revoke).Last(e => e.Kind is not (StreamEventKind.CommitFailed or StreamEventKind.Batch));
        Assert.Equal(StreamEventKind.Checkpoint, beforeRevoke.Kind);
        Assert.Contains("revoke", beforeRevoke.Message);

        var ids = StreamFixture.TrainedIds(dirA).Concat(StreamFixture.TrainedIds(dirB)).ToList();
        Assert.Equal(Enumerable.Range(0, Rows).Select(i => (long)i), ids.Distinct().Order()); // nothing lost
        if (eventsA[revoke].Message.Contains("commit failed"))
        {
            // The embedded broker sometimes refuses a commit made during a revoke (REBALANCE_IN_PROGRESS; Kafka
            // accepts it): B then starts from the group's older offset and retrains what A trained after it, in
            // B's own model. Each such record is trained once per model, never twice by one.
            Assert.All(ids.CountBy(i => i), kv => Assert.InRange(kv.Value, 1, 2));
            Assert.Equal(StreamFixture.TrainedIds(dirA).Count, StreamFixture.TrainedIds(dirA).Distinct().Count());
            Assert.Equal(StreamFixture.TrainedIds(dirB).Count, StreamFixture.TrainedIds(dirB).Distinct().Count());
        }
        else
        {
            Assert.Equal(Rows, ids.Count); // exactly once across the two trainers
        }
        Assert.NotEmpty(StreamFixture.TrainedIds(dirB));
    }

    [Fact]
    public async Task CommittedOffsetsUnreadableOnAssign_TrainingStartsAtTheGroupsOffset_NotTheBeginning()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("imp", 1);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        _f.Produce(endpoint, "imp", maxRecords: Rows);
        // Another member of the group trained the first half and committed it.
        using (var other = new ConsumerBuilder<Ignore, Ignore>(endpoint.ConsumerConfig("g")).Build())
            other.Commit([new TopicPartitionOffset("imp", 0, Rows / 2)]);
        // The trainer's own read of the committed offsets fails once; the client's fetch after it succeeds.
        kafka.PushRequestErrors(KafkaApiKey.OffsetFetch, ErrorCode.GroupAuthorizationFailed);
        string dir = _f.NewDir("unread");
        var events = new Recorder();
        using var trainer = new StreamTrainer(_f.Config, endpoint, _f.Options("imp", "g", dir) with { StopAfterRecords = Rows / 2 }, events.Add);
        await Task.Run(() => trainer.Run()).WaitAsync(StreamFixture.HangGuard);

        Assert.Contains(events.Events, e => e.Kind == StreamEventKind.CommitFailed && e.Message.Contains("could not read the group's committed offsets"));
        Assert.Equal(Enumerable.Range(Rows / 2, Rows / 2).Select(i => (long)i), StreamFixture.TrainedIds(dir)); // nothing retrained
    }

    [Fact]
    public async Task BrokerOutage_IsReported_AndTrainingResumesWithoutLoss()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("imp", 1);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        _f.Produce(endpoint, "imp", maxRecords: Rows / 2);
        string dir = _f.NewDir("outage");
        var events = new Recorder();
        using var trainer = new StreamTrainer(_f.Config, endpoint, _f.Options("imp", "g", dir) with { StopAfterRecords = Rows }, events.Add);
        var run = Task.Run(() => trainer.Run());
        events.WaitFor(e => e.Accounted >= Rows / 4);

        kafka.SetBrokerDown(1);
        events.WaitFor(e => e.Kind == StreamEventKind.Outage);
        var rest = Task.Run(() => _f.Produce(endpoint, "imp", maxRecords: Rows)); // the reader restarts at 0: skip what was sent
        kafka.SetBrokerUp(1);
        var report = await run.WaitAsync(StreamFixture.HangGuard);
        await rest.WaitAsync(StreamFixture.HangGuard);

        Assert.True(report.Outages >= 1);
        events.WaitFor(e => e.Kind == StreamEventKind.OutageOver);
        Assert.Equal(0, report.RecordsLost);
        Assert.Equal(Rows, report.RecordsTrained);
        var ids = StreamFixture.TrainedIds(dir);
        // First half, then the whole log again (ids restart at 0): every offset trained once.
        Assert.Equal(Enumerable.Range(0, Rows / 2).Concat(Enumerable.Range(0, Rows / 2)).Select(i => (long)i), ids);
    }

    [Fact]
    public void RecordsDeletedByRetention_BeforeTheTrainerReadThem_AreReportedAsDataLoss()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("imp", 1);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        _f.Produce(endpoint, "imp", maxRecords: 256);
        string dir = _f.NewDir("loss");
        using (var t = new StreamTrainer(_f.Config, endpoint, _f.Options("imp", "g", dir) with { StopAfterRecords = 256 })) t.Run();

        // More than the mock's ~5 MiB per partition arrives while no trainer runs: the oldest segments are deleted.
        using (var raw = StreamFixture.RawProducer(kafka.BootstrapServers))
        {
            var filler = new byte[60_000];
            for (int i = 0; i < 150; i++) raw.Produce("imp", new Message<byte[]?, byte[]?> { Value = filler });
            Assert.Equal(0, raw.Flush(StreamFixture.HangGuard));
        }
        _f.Produce(endpoint, "imp", maxRecords: 300, firstId: 10_000);
        long low, high;
        using (var probe = new ConsumerBuilder<Ignore, Ignore>(endpoint.ConsumerConfig("probe")).Build())
        {
            var w = probe.QueryWatermarkOffsets(new TopicPartition("imp", 0), StreamFixture.HangGuard);
            (low, high) = (w.Low.Value, w.High.Value);
        }
        Assert.True(low > 256, $"the broker kept everything (low watermark {low}); the test needs retention to delete");

        var events = new List<StreamEvent>();
        StreamTrainerReport report;
        using (var t = new StreamTrainer(_f.Config, endpoint, _f.Options("imp", "g", dir) with { StopAfterRecords = high }, events.Add)) report = t.Run();
        Assert.Equal(low - 256, report.RecordsLost);
        var loss = Assert.Single(events, e => e.Kind == StreamEventKind.DataLoss);
        Assert.Contains($"offsets 256..{low - 1}", loss.Message);
        Assert.Equal(256 + 300, report.RecordsTrained);
        Assert.Equal(high, report.RecordsTrained + report.RecordsDeadLettered + report.RecordsLost);
    }
}
