using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Confluent.Kafka;
using RecsysEmbed.Core.Export;
using RecsysEmbed.Core.Updates;
using RecsysEmbed.Serving.Metrics;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Store;
using RecsysEmbed.Serving.Updates;
using RecsysEmbed.Streaming.Broker;

namespace RecsysEmbed.Tests.Serving;

/// <summary>
/// `recsys-embed serve` in a child process follows the update topic; it is killed with SIGKILL after a store
/// checkpoint and more updates. The store recovered from its directory holds every row acknowledged by the checkpoint,
/// and the update stream resumes from the offsets stored with it.
/// </summary>
public sealed class ServeCrashRecoveryTests(TrainedModelFixture fixture) : IClassFixture<TrainedModelFixture>
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Serve_killed_with_sigkill_recovers_checkpointed_rows_and_resumes_from_stored_offsets()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("u", partitions: 2);
        long s = fixture.OpenCheckpoint().Step;
        var model = ServingModel.Create(fixture.Config, fixture.OpenCheckpoint());
        var catalog = new RowCatalog(model.Tables, _ => RowFormat.Fp32);
        var ue = catalog.Matrices.First(m => m.Name == "t_ue");
        float[] Values(int seed) => Enumerable.Range(0, ue.Dim).Select(d => seed * 0.5f + d).ToArray();
        void Produce(IEnumerable<(int Row, long Version, int Seed)> rows)
        {
            using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, EnableIdempotence = true, Acks = Acks.All }).Build();
            foreach (var (row, version, seed) in rows)
                producer.Produce("u", new Message<byte[], byte[]> { Key = EmbeddingUpdateCodec.EncodeRowKey("t_ue", row), Value = EmbeddingUpdateCodec.EncodeRowValue(version, 0, Values(seed)) });
            Assert.Equal(0, producer.Flush(HangGuard));
        }
        Produce(Enumerable.Range(0, 30).Select(r => (r, s + 1, r)));

        string store = Path.Combine(fixture.Directory, $"serve-{Guid.NewGuid():N}");
        string cli = Path.Combine(AppContext.BaseDirectory, "recsys-embed.dll");
        // The test host runs under the dotnet muxer; use the same one for the child.
        string dotnet = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        var start = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (string a in new[] { "exec", cli, "serve", "--model", fixture.CheckpointDirectory, "--config", fixture.ConfigPath, "--port", "0", "--store", store,
                                     "--updates-topic", "u", "--bootstrap", kafka.BootstrapServers, "--checkpoint-every", "1000000", "--checkpoint-seconds", "3600" })
            start.ArgumentList.Add(a);
        using var child = Process.Start(start)!;
        var stderr = new System.Text.StringBuilder();
        child.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        child.BeginErrorReadLine();
        try
        {
            string? http = null;
            var readHttp = Task.Run(() =>
            {
                for (string? line; (line = child.StandardOutput.ReadLine()) is not null;)
                    if (line.StartsWith("http: ", StringComparison.Ordinal)) return line[6..];
                return null;
            });
            Assert.True(await Task.WhenAny(readHttp, Task.Delay(HangGuard)) == readHttp, "serve did not print its address");
            http = await readHttp;
            Assert.True(http is not null, $"serve exited early: {stderr}");
            Assert.StartsWith("http://127.0.0.1:", http);
            using var client = new HttpClient { BaseAddress = new Uri(http!) };

            await WaitForApplied(client, 30);
            var checkpoint = await (await client.PostAsync("/v1/admin/checkpoint", null)).Content.ReadFromJsonAsync<JsonElement>();
            var acked = checkpoint.GetProperty("offsets").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
            Assert.Equal(30, acked.Values.Sum());

            // After the checkpoint: rows 0..4 change again and rows 100..104 are new; then SIGKILL.
            Produce(Enumerable.Range(0, 5).Select(r => (r, s + 2, 1000 + r)).Concat(Enumerable.Range(100, 5).Select(r => (r, s + 2, r))));
            await WaitForApplied(client, 40);
            child.Kill(entireProcessTree: false); // SIGKILL on Linux
            Assert.True(child.WaitForExit(HangGuard));
        }
        finally
        {
            if (!child.HasExited) child.Kill();
        }

        using var recovered = FasterRowStore.Open(catalog, new RowStoreOptions
        {
            CheckpointDirectory = Path.Combine(store, "checkpoints"), LogDevicePath = Path.Combine(store, "log", "hlog"), ExpectedRows = catalog.TotalRows,
        });
        Assert.True(recovered.Recovered);
        Assert.Equal(30, recovered.RecoveredOffsets.Values.Sum());
        var session = recovered.RentSession();
        var read = new float[ue.Dim];
        for (int r = 5; r < 30; r++)
        {
            Assert.True(session.TryRead(ue.Id, r, read, out long v));
            Assert.Equal(Values(r), read);
            Assert.Equal(s + 1, v);
        }
        // The stream resumes at the stored offsets: exactly the 10 records after the checkpoint are read again.
        using var applier = new UpdateApplier(recovered, null, new ServingMetrics());
        using var source = new KafkaUpdateSource(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers }, "u");
        source.Start(applier.Offsets);
        int handled = 0;
        var clock = Stopwatch.StartNew();
        while (handled < 10 && clock.Elapsed < HangGuard)
        {
            if (source.TryNext(TimeSpan.FromMilliseconds(200), out var record, CancellationToken.None))
            {
                Assert.True(record.Offset >= recovered.RecoveredOffsets[record.PartitionKey]);
                applier.Apply(record);
                handled++;
            }
        }
        Assert.Equal(10, handled);
        Assert.False(source.TryNext(TimeSpan.FromMilliseconds(300), out _, CancellationToken.None));
        Assert.True(session.TryRead(ue.Id, 2, read, out long v2));
        Assert.Equal(Values(1002), read);
        Assert.Equal(s + 2, v2);
        Assert.True(session.TryRead(ue.Id, 103, read, out _));
        Assert.Equal(Values(103), read);
        recovered.Return(session);
    }

    private static async Task WaitForApplied(HttpClient client, long count)
    {
        var clock = Stopwatch.StartNew();
        long applied = -1;
        while (clock.Elapsed < HangGuard)
        {
            var health = await client.GetFromJsonAsync<JsonElement>("/health");
            applied = health.TryGetProperty("updatesApplied", out var a) ? long.Parse(a.ToString()) : 0;
            if (applied >= count) return;
            await Task.Delay(20); // polling a condition; the guard only bounds a hang
        }
        Assert.Fail($"serve applied {applied} of {count} updates");
    }
}
