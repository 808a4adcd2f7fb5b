using System.Collections.Concurrent;
using System.Diagnostics;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Streaming.Producing;
using RecsysEmbed.Streaming.Training;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Training;

namespace RecsysEmbed.Tests.Streaming;

/// <summary>
/// Exactly-once across crashes: this process hosts the broker on 127.0.0.1 and replays the click log, while the
/// trainer runs as a child process (the built CLI) that is SIGKILLed at points chosen from the progress it reports,
/// and restarted each time. The final model must hold every record exactly once and equal an uninterrupted
/// one-thread run.
/// </summary>
public sealed class CrashResumeTests : IDisposable
{
    private const int Rows = 2400;   // 19 batches of 128 (the last one partial)
    private readonly StreamFixture _f = new(Rows);

    public void Dispose() => _f.Dispose();

    /// <summary>
    /// One partition: the final model must also equal an uninterrupted run byte for byte. Three partitions: batches are
    /// offset-aligned per partition, but partitions interleave in arrival order, so only the records (count and ids)
    /// are compared.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task SigkilledTrainer_RestartedRepeatedly_TrainsEveryRecordExactlyOnce_AndEqualsAnUninterruptedRun(int partitions)
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("imp", partitions);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        string checkpoint = _f.NewDir("crash");

        // The producer runs while the trainer is killed and restarted (throttled so it spans several restarts).
        var producing = Task.Run(() =>
        {
            using var reader = CtrReaders.Open(_f.DataPath, "criteo", new CtrReaderOptions(), null);
            return ReplayProducer.Run(reader, endpoint, new ReplayOptions { Topic = "imp", RatePerSecond = 600, KeyField = "C3" });
        });

        var random = new Random(20261124 + partitions);
        string metrics = Path.Combine(_f.Dir, $"metrics-{partitions}.json");
        int kills = 0, resumes = 0;
        long batchesAtStart = 0;
        for (int attempt = 0; attempt < 12; attempt++)
        {
            bool killThisTime = kills < 4;
            // Kill either a few batches after (re)start, or right after a checkpoint is written but before its offsets are committed.
            int batchesToRun = random.Next(1, 5);
            bool atCheckpoint = random.Next(2) == 0;
            using var child = StartTrainer(kafka.BootstrapServers, checkpoint, metrics);
            bool killed = false, first = true;
            foreach (string line in ReadLines(child))
            {
                if (!line.StartsWith("event ")) continue;
                if (line.StartsWith("event Resumed")) resumes++;
                long batches = long.Parse(line.Split(' ')[2]["batches=".Length..]);
                if (first) batchesAtStart = batches;
                first = false;
                bool due = killThisTime && batches >= batchesAtStart + batchesToRun
                           && (atCheckpoint ? line.StartsWith("event Checkpoint") : line.StartsWith("event Batch"));
                if (due)
                {
                    // The child waits for our reply after each event (--step-events), so it dies exactly here, whatever
                    // the machine's speed: SIGKILL, no handler runs, nothing is flushed.
                    child.Kill();
                    killed = true;
                    kills++;
                    break;
                }
                child.StandardInput.WriteLine();
                child.StandardInput.Flush();
            }
            await child.WaitForExitAsync().WaitAsync(StreamFixture.HangGuard);
            if (!killed)
            {
                Assert.True(child.ExitCode == 0, $"trainer exited with {child.ExitCode}: {await child.StandardError.ReadToEndAsync()}");
                break;
            }
        }
        Assert.True(kills >= 3, $"only {kills} kills happened");
        Assert.InRange(resumes, 1, kills); // a kill before the first checkpoint restarts from scratch (no "Resumed")
        var produced = await producing.WaitAsync(StreamFixture.HangGuard);
        Assert.Equal(Rows, produced.Acknowledged);

        var ids = StreamFixture.TrainedIds(checkpoint);
        Assert.Equal(Rows, ids.Count);
        Assert.Equal(Enumerable.Range(0, Rows).Select(i => (long)i), ids.Order());
        using (var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(metrics)))
        {
            Assert.Equal(Rows, json.RootElement.GetProperty("records_trained").GetInt64());
            Assert.Equal(0, json.RootElement.GetProperty("records_lost").GetInt64());
        }
        if (partitions > 1) return;

        // Uninterrupted, one thread, same topic, its own group.
        string reference = _f.NewDir("reference");
        using (var trainer = new StreamTrainer(_f.Config, endpoint, _f.Options("imp", "reference", reference) with { StopAfterRecords = Rows }))
            trainer.Run();
        StreamFixture.AssertSameCheckpoint(reference, checkpoint);
    }

    private Process StartTrainer(string bootstrap, string checkpoint, string metrics)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "recsys-embed.dll");
        Assert.True(File.Exists(cli), $"the CLI is not built next to the tests: {cli}");
        string host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in (string[])[
            cli, "stream", "train", "--config", _f.ConfigPath, "--topic", "imp", "--bootstrap", bootstrap, "--group", "crash",
            "--checkpoint", checkpoint, "--threads", "1", "--batch-size", StreamFixture.BatchRecords.ToString(), "--checkpoint-every", "2",
            "--checkpoint-interval-ms", "0", "--stop-after", Rows.ToString(), "--track-ids", "--events", "--step-events", "--metrics-out", metrics,
            "--kafka-property", "session.timeout.ms=3000", "--kafka-property", "heartbeat.interval.ms=500"])
            start.ArgumentList.Add(a);
        return Process.Start(start)!;
    }

    // Lines of the child's stdout until it closes (or the hang guard passes).
    private static IEnumerable<string> ReadLines(Process child)
    {
        var deadline = DateTime.UtcNow + StreamFixture.HangGuard;
        while (DateTime.UtcNow < deadline)
        {
            var read = child.StandardOutput.ReadLineAsync();
            if (!read.Wait(deadline - DateTime.UtcNow)) yield break;
            if (read.Result is not { } line) yield break;
            yield return line;
        }
    }
}
