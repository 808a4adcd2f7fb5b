using System.Diagnostics;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Serving.Service;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Streaming.Producing;
using RecsysEmbed.Streaming.Training;
using RecsysEmbed.Training;

namespace RecsysEmbed.Tests.Serving;

/// <summary>
/// The stream trainer (issue 4) publishes its updates to the topic the service follows: when it stops, every row of
/// the service's store equals the trainer's final row, and the dense model the service scores with is the last one
/// published.
/// </summary>
public sealed class StreamToServingTests(TrainedModelFixture fixture) : IClassFixture<TrainedModelFixture>
{
    [Fact]
    public async Task Service_following_the_stream_trainers_updates_ends_with_the_trainers_rows()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("imp", 1);
        kafka.CreateTopic("upd", 2);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        using (var reader = CtrReaders.Open(fixture.DataPath, "criteo", new CtrReaderOptions(), null))
            ReplayProducer.Run(reader, endpoint, new ReplayOptions { Topic = "imp", MaxRecords = 512 });
        await using var host = await LookupServiceHost.StartAsync(new ServeOptions
        {
            ConfigPath = fixture.ConfigPath, ModelDirectory = fixture.CheckpointDirectory,
            StoreDirectory = Path.Combine(fixture.Directory, $"follow-{Guid.NewGuid():N}"), MemoryBudgetBytes = 16 << 20,
            UpdatesTopic = "upd", Kafka = endpoint, CheckpointInterval = TimeSpan.FromDays(1), CheckpointEveryRecords = long.MaxValue,
        }, TextWriter.Null);
        long loadedVersion = host.Scorer.Version;

        using var trainer = new StreamTrainer(fixture.Config, endpoint, new StreamTrainerOptions
        {
            Topic = "imp", GroupId = "g", CheckpointDir = Path.Combine(fixture.Directory, $"stream-{Guid.NewGuid():N}"), BatchRecords = 128, Threads = 1,
            CheckpointEveryBatches = 2, CheckpointIntervalMs = 0, PollMs = 50, StopAfterRecords = 512, PublishTopic = "upd", PublishIntervalMs = 0,
        });
        var report = trainer.Run();
        Assert.True(report.Publications >= 2);

        // Wait (hang guard only) until the service has consumed every published record.
        long published = report.RowsPublished + report.Publications + report.VocabularyRecordsPublished;
        var clock = Stopwatch.StartNew();
        while (host.Applier.Offsets.Values.Sum() < published && clock.Elapsed < TimeSpan.FromSeconds(120)) await Task.Delay(20);
        Assert.Equal(published, host.Applier.Offsets.Values.Sum());
        Assert.Equal(0, host.Applier.HeldCount);
        Assert.Empty(host.Applier.Malformed);
        Assert.True(host.Scorer.Version > loadedVersion);

        var session = host.Store.RentSession();
        int compared = 0;
        foreach (var matrix in trainer.Trainer.Tables.Tables.SelectMany(t => t.Matrices))
        {
            Assert.True(host.Store.Catalog.TryGet(matrix.Name, out var stored));
            var read = new float[matrix.Dim];
            for (long r = 0; r < matrix.Rows; r++)
            {
                Assert.True(session.TryRead(stored.Id, r, read, out _));
                Assert.Equal(matrix.Row(r).ToArray(), read);
                compared++;
            }
        }
        host.Store.Return(session);
        Assert.Equal(host.Store.Catalog.TotalRows, compared);
    }
}
