using Confluent.Kafka;
using RecsysEmbed.Core.Export;
using RecsysEmbed.Core.Updates;
using RecsysEmbed.Serving.Metrics;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Store;
using RecsysEmbed.Serving.Updates;
using RecsysEmbed.Streaming.Broker;

namespace RecsysEmbed.Tests.Serving;

/// <summary>The update topic through Confluent.Kafka against the embedded broker: apply, staleness bound, exact resume.</summary>
public sealed class UpdateTopicTests(TrainedModelFixture fixture) : IClassFixture<TrainedModelFixture>
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    /// <summary>Runs an applier on a source in the background until <paramref name="records"/> records were handled.</summary>
    private static Task<List<(UpdateRecord Record, ApplyOutcome Outcome)>> Consume(UpdateApplier applier, IUpdateSource source, int records) =>
        Consume(applier, source, $"{records} records", handled => handled.Count >= records);

    /// <summary>Runs the applier until <paramref name="done"/> holds for the records handled so far (checked after each one).</summary>
    private static async Task<List<(UpdateRecord Record, ApplyOutcome Outcome)>> Consume(UpdateApplier applier, IUpdateSource source, string what,
                                                                                          Func<List<(UpdateRecord Record, ApplyOutcome Outcome)>, bool> until)
    {
        var handled = new List<(UpdateRecord Record, ApplyOutcome Outcome)>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnHandled(UpdateRecord r, ApplyOutcome o)
        {
            lock (handled)
            {
                handled.Add((r, o));
                if (until(handled)) done.TrySetResult();
            }
        }
        applier.RecordHandled += OnHandled;
        using var stop = new CancellationTokenSource();
        var loop = Task.Run(() => applier.RunAsync(source, checkpointEvery: long.MaxValue, checkpointInterval: TimeSpan.FromDays(1), stop.Token));
        var finished = await Task.WhenAny(done.Task, loop, Task.Delay(HangGuard));
        Assert.True(finished == done.Task, $"{handled.Count} update records arrived, not yet {what} (loop: {loop.Status} {loop.Exception?.GetBaseException().Message})");
        stop.Cancel();
        await loop;
        applier.RecordHandled -= OnHandled;
        return handled;
    }

    private static void Produce(EmbeddedKafka kafka, string topic, IEnumerable<(byte[] Key, byte[] Value)> records)
    {
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, EnableIdempotence = true, Acks = Acks.All }).Build();
        foreach (var (k, v) in records) producer.Produce(topic, new Message<byte[], byte[]> { Key = k, Value = v });
        Assert.Equal(0, producer.Flush(HangGuard));
    }

    [Fact]
    public async Task Updates_from_the_topic_are_applied_held_to_the_staleness_bound_and_resume_exactly_after_restart()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("updates", partitions: 3);
        string dir = Path.Combine(fixture.Directory, $"store-{Guid.NewGuid():N}");
        var first = new LoadedStore(fixture, directory: dir);
        var checkpoint = fixture.OpenCheckpoint();
        long s = checkpoint.Step;
        using var scorer = DenseScorer.FromCheckpoint(first.Model, checkpoint, s);
        var metrics = new ServingMetrics();
        var applier = new UpdateApplier(first.Store, scorer, metrics, stalenessBound: 5);
        var ue = first.Catalog.Matrices.First(m => m.Name == "t_ue");
        var qr = first.Catalog.Matrices.First(m => m.Name == "t_qr.p1");
        float[] Values(int seed, int dim) => Enumerable.Range(0, dim).Select(d => seed + d / 10f).ToArray();

        var records = new List<(byte[], byte[])>();
        for (int r = 0; r < 40; r++) records.Add((EmbeddingUpdateCodec.EncodeRowKey("t_ue", r), EmbeddingUpdateCodec.EncodeRowValue(s + 1, 0, Values(r, ue.Dim))));
        records.Add((EmbeddingUpdateCodec.EncodeRowKey("t_qr.p1", 3), EmbeddingUpdateCodec.EncodeRowValue(s + 1, 0, Values(99, qr.Dim))));
        // Too far ahead of the dense model (bound 5): held until the dense version s + 8 arrives.
        records.Add((EmbeddingUpdateCodec.EncodeRowKey("t_ue", 100), EmbeddingUpdateCodec.EncodeRowValue(s + 10, 0, Values(100, ue.Dim))));
        records.Add((EmbeddingUpdateCodec.EncodeRowKey("t_ue", 0), [1, 2, 3])); // malformed: set aside and counted
        Produce(kafka, "updates", records);

        using (var source = new KafkaUpdateSource(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers }, "updates"))
        {
            var handled = await Consume(applier, source, records.Count);
            Assert.Equal(ApplyOutcome.Held, handled.Single(h => h.Record.Key.Span.SequenceEqual(EmbeddingUpdateCodec.EncodeRowKey("t_ue", 100)) && h.Record.Value.Length > 3).Outcome);
            Assert.Single(handled, h => h.Outcome == ApplyOutcome.Malformed);
        }
        Assert.Equal(1, applier.HeldCount);
        var session = first.Store.RentSession();
        var read = new float[ue.Dim];
        Assert.True(session.TryRead(ue.Id, 100, read, out long heldVersion));
        Assert.Equal(s, heldVersion); // still the checkpoint's row
        for (int r = 0; r < 40; r++)
        {
            Assert.True(session.TryRead(ue.Id, r, read, out long v));
            Assert.Equal(Values(r, ue.Dim), read);
            Assert.Equal(s + 1, v);
        }
        Assert.True(session.TryRead(qr.Id, 3, new float[qr.Dim], out _));

        // The dense model arrives: the held row is released and Score uses the new dense version.
        var (_, stateDict) = scorer.Save();
        Produce(kafka, "updates", [(EmbeddingUpdateCodec.DenseKey.ToArray(), EmbeddingUpdateCodec.EncodeDenseValue(s + 8, 0, stateDict))]);
        // Until the dense record itself is handled: the held row is read again first (resume never passes a held row).
        using (var source = new KafkaUpdateSource(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers }, "updates"))
            await Consume(applier, source, "the dense record", handled => handled.Any(h => h.Record.Key.Span.SequenceEqual(EmbeddingUpdateCodec.DenseKey)));
        Assert.Equal(s + 8, scorer.Version);
        Assert.Equal(0, applier.HeldCount);
        Assert.True(session.TryRead(ue.Id, 100, read, out long released));
        Assert.Equal(s + 10, released);
        var (token, stored) = await applier.CheckpointAsync();
        Assert.Equal(records.Count + 1, stored.Values.Sum());
        first.Store.Return(session);

        // More updates after the checkpoint; the instance is abandoned (no dispose) and the store recovered.
        Produce(kafka, "updates", Enumerable.Range(0, 9).Select(r => (EmbeddingUpdateCodec.EncodeRowKey("t_ue", 200 + r), EmbeddingUpdateCodec.EncodeRowValue(s + 9, 0, Values(200 + r, ue.Dim)))));
        using var recovered = FasterRowStore.Open(new RowCatalog(first.Model.Tables, _ => RowFormat.Fp32), LoadedStore.Options(dir));
        Assert.Equal(stored, recovered.RecoveredOffsets);
        using var resumed = new UpdateApplier(recovered, null, new ServingMetrics());
        using (var source = new KafkaUpdateSource(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers }, "updates"))
        {
            var handled = await Consume(resumed, source, 9);
            // Exactly the records after the checkpoint: none from before it is read again.
            Assert.Equal(9, handled.Count);
            Assert.All(handled, h => Assert.True(h.Record.Offset >= stored[h.Record.PartitionKey]));
            Assert.Equal(0, source.Gaps);
        }
        var s2 = recovered.RentSession();
        Assert.True(s2.TryRead(ue.Id, 5, read, out long v5));
        Assert.Equal(Values(5, ue.Dim), read);
        Assert.Equal(s + 1, v5);
        Assert.True(s2.TryRead(ue.Id, 208, read, out _));
        Assert.Equal(Values(208, ue.Dim), read);
        GC.KeepAlive(first);
    }
}
