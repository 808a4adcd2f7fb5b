using RecsysEmbed.Cli;
using RecsysEmbed.Serving.Service;
using RecsysEmbed.Streaming.Broker;

namespace RecsysEmbed.Tests.Serving;

/// <summary>The CLI side: loadtest against a running host (gRPC, HTTP, in-process, freshness through Kafka) and usage errors.</summary>
public sealed class ServeAndLoadtestCommandTests(TrainedModelFixture fixture) : IClassFixture<TrainedModelFixture>
{
    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Loadtest_measures_grpc_http_and_inprocess_and_freshness_through_the_update_topic()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("fresh", partitions: 1);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        await using var host = await LookupServiceHost.StartAsync(new ServeOptions
        {
            ConfigPath = fixture.ConfigPath, ModelDirectory = fixture.CheckpointDirectory,
            StoreDirectory = Path.Combine(fixture.Directory, $"host-{Guid.NewGuid():N}"), MemoryBudgetBytes = 16 << 20,
            UpdatesTopic = "fresh", Kafka = endpoint, LoadThreads = 2,
        }, TextWriter.Null);
        Assert.Equal(host.Store.Catalog.TotalRows, host.Load!.Value.Rows);
        string grpc = "grpc://127.0.0.1:" + host.Server.Port;
        string http = "http://127.0.0.1:" + host.Server.HttpPort;
        var (code, output, error) = Cli("loadtest", "--target", grpc, "--target", http, "--target", "inproc", "--model", fixture.CheckpointDirectory, "--config", fixture.ConfigPath,
            "--duration", "0.3", "--warmup", "0", "--concurrency", "2", "--cardinality", "50", "--deadline-ms", "120000",
            "--freshness", "3", "--freshness-feature", "C7", "--updates-topic", "fresh", "--bootstrap", kafka.BootstrapServers);
        Assert.True(code == 0, error + output);
        Assert.Contains($"grpc {grpc.Replace("grpc://", "http://")}: ", output);
        Assert.Contains("in-process: ", output);
        Assert.Contains("errors: none", output);
        Assert.Contains("ratio ", output);
        Assert.Contains("freshness: 3 updates", output);
        // One row per probe (C7 reads one unified-table row). A probe returns once a lookup sees its row, which the
        // applier writes just before counting it: wait for the count (no timing in the assertion itself).
        var guard = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (host.Applier.Applied < 3 && DateTime.UtcNow < guard) await Task.Delay(10);
        Assert.Equal(3, host.Applier.Applied);
        Assert.DoesNotContain("errors: Unavailable", output);
    }

    [Fact]
    public async Task Loadtest_runs_the_grpc_stream_target_with_the_api_key_and_no_errors()
    {
        await using var host = await LookupServiceHost.StartAsync(new ServeOptions
        {
            ConfigPath = fixture.ConfigPath, ModelDirectory = fixture.CheckpointDirectory,
            StoreDirectory = Path.Combine(fixture.Directory, $"host-{Guid.NewGuid():N}"), MemoryBudgetBytes = 16 << 20, LoadThreads = 2,
            Service = new LookupServiceOptions { ApiKey = "k3y" },
        }, TextWriter.Null);
        string keyFile = Path.Combine(fixture.Directory, $"key-{Guid.NewGuid():N}");
        File.WriteAllText(keyFile, "k3y\n");
        string json = Path.Combine(fixture.Directory, $"stream-{Guid.NewGuid():N}.json");
        string stream = "grpc-stream://127.0.0.1:" + host.Server.Port;
        var (code, output, error) = Cli("loadtest", "--target", stream, "--target", "grpc://127.0.0.1:" + host.Server.Port, "--api-key-file", keyFile,
            "--duration", "0.3", "--warmup", "0", "--concurrency", "2", "--cardinality", "50", "--json", json, "--deadline-ms", "120000");
        Assert.True(code == 0, error + output);
        Assert.Contains($"grpc-stream http://127.0.0.1:{host.Server.Port}: ", output);
        Assert.Contains($"ratio grpc-stream http://127.0.0.1:{host.Server.Port} / grpc http://127.0.0.1:{host.Server.Port}: ", output);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        var reports = doc.RootElement.GetProperty("reports").EnumerateArray().ToArray();
        Assert.Equal(2, reports.Length);
        foreach (var report in reports)
        {
            Assert.True(report.GetProperty("Calls").GetInt64() > 0, report.ToString());
            Assert.Empty(report.GetProperty("Errors").EnumerateObject());
        }
        // One stream per caller, kept from the warm-up through the measurement; every message was a lookup.
        Assert.True(host.Metrics.Streams.Value >= 2, $"{host.Metrics.Streams.Value} streams");
        Assert.Contains("recsys_requests_total{method=\"LookupStream\",code=\"OK\"}", host.Metrics.Render());
        Assert.DoesNotContain("code=\"INVALID_ARGUMENT\"", host.Metrics.Render());
        Assert.Equal(0, host.Metrics.Rejected.Value);
        Assert.Equal(0, host.Metrics.Unauthenticated.Value);
    }

    [Fact]
    public async Task Loadtest_sends_compact_requests_on_every_grpc_target_and_names_a_target_that_completed_no_call()
    {
        await using var host = await LookupServiceHost.StartAsync(new ServeOptions
        {
            ConfigPath = fixture.ConfigPath, ModelDirectory = fixture.CheckpointDirectory,
            StoreDirectory = Path.Combine(fixture.Directory, $"host-{Guid.NewGuid():N}"), MemoryBudgetBytes = 16 << 20, LoadThreads = 2,
        }, TextWriter.Null);
        string port = host.Server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (code, output, error) = Cli("loadtest", "--target", "grpc://127.0.0.1:" + port, "--target", "grpc-stream://127.0.0.1:" + port,
            "--target", "grpc-mux://127.0.0.1:" + port, "--compact", "--packed",
            "--duration", "0.3", "--warmup", "0", "--concurrency", "2", "--cardinality", "50", "--deadline-ms", "120000");
        Assert.True(code == 0, error + output);
        foreach (var target in new[] { "grpc", "grpc-stream", "grpc-mux" })
            Assert.Contains($"{target} http://127.0.0.1:{port} (packed, compact): ", output);
        Assert.Equal(3, System.Text.RegularExpressions.Regex.Matches(output, "errors: none").Count);
        var metrics = host.Metrics.Render();
        Assert.Contains("recsys_requests_total{method=\"BatchLookupStream\",code=\"OK\"}", metrics);
        Assert.DoesNotContain("code=\"INVALID_ARGUMENT\"", metrics); // every compact request was well formed

        // Against a keyed service without the key no call completes: the ratio line says so instead of a number.
        await using var keyed = await LookupServiceHost.StartAsync(new ServeOptions
        {
            ConfigPath = fixture.ConfigPath, ModelDirectory = fixture.CheckpointDirectory,
            StoreDirectory = Path.Combine(fixture.Directory, $"host-{Guid.NewGuid():N}"), MemoryBudgetBytes = 16 << 20, LoadThreads = 2,
            Service = new LookupServiceOptions { ApiKey = "k3y" },
        }, TextWriter.Null);
        string keyedGrpc = "grpc://127.0.0.1:" + keyed.Server.Port;
        var (_, refused, _) = Cli("loadtest", "--target", "grpc-stream://127.0.0.1:" + port, "--target", keyedGrpc,
            "--duration", "0.3", "--warmup", "0", "--concurrency", "1", "--cardinality", "50", "--deadline-ms", "120000");
        Assert.Contains($"ratio grpc-stream http://127.0.0.1:{port} / grpc http://127.0.0.1:{keyed.Server.Port}: none (grpc http://127.0.0.1:{keyed.Server.Port} completed no call)", refused);
    }

    [Fact]
    public async Task Loadtest_runs_the_multiplexed_target_with_packed_answers_and_inline_io()
    {
        await using var host = await LookupServiceHost.StartAsync(new ServeOptions
        {
            ConfigPath = fixture.ConfigPath, ModelDirectory = fixture.CheckpointDirectory,
            StoreDirectory = Path.Combine(fixture.Directory, $"host-{Guid.NewGuid():N}"), MemoryBudgetBytes = 16 << 20, LoadThreads = 2,
            Service = new LookupServiceOptions { InlineIo = true },
        }, TextWriter.Null);
        string mux = "grpc-mux://127.0.0.1:" + host.Server.Port;
        var (code, output, error) = Cli("loadtest", "--target", mux, "--packed", "--inline-io", "--mux-in-flight", "2", "--mux-connections", "2",
            "--duration", "0.3", "--warmup", "0", "--concurrency", "4", "--cardinality", "50", "--deadline-ms", "120000");
        Assert.True(code == 0, error + output);
        Assert.Contains($"grpc-mux http://127.0.0.1:{host.Server.Port} (packed) x2 connections: ", output);
        Assert.Contains("errors: none", output);
        Assert.Matches(@"grpc-mux: [\d,]+ lookups in [\d,]+ messages \(mean [\d.]+ per message, at most 2 in flight on each of 2 connection\(s\)", output);
        var metrics = host.Metrics.Render();
        Assert.Contains("recsys_requests_total{method=\"BatchLookupStream\",code=\"OK\"}", metrics);
        Assert.DoesNotContain("code=\"INVALID_ARGUMENT\"", metrics);
        Assert.Equal(2, host.Metrics.Streams.Value); // every caller on one of the two connections' streams

        var (bad, _, badErr) = Cli("loadtest", "--target", mux, "--mux-in-flight", "0", "--duration", "0.1");
        Assert.Equal(2, bad);
        Assert.Contains("--mux-in-flight: 0", badErr);
        var (badConnections, _, badConnectionsErr) = Cli("loadtest", "--target", mux, "--mux-connections", "0", "--duration", "0.1");
        Assert.Equal(2, badConnections);
        Assert.Contains("--mux-connections: 0", badConnectionsErr);
    }

    [Fact]
    public void Loadtest_runs_the_in_process_target_with_and_without_the_hot_cache_on_a_skewed_mix()
    {
        var (code, output, error) = Cli("loadtest", "--target", "inproc-cached", "--target", "inproc", "--model", fixture.CheckpointDirectory, "--config", fixture.ConfigPath,
            "--duration", "0.3", "--warmup", "0", "--concurrency", "2", "--cardinality", "500", "--zipf", "--hot-cache", "1MiB");
        Assert.True(code == 0, error + output);
        Assert.Contains("in-process, hot cache 1 MiB: ", output);
        Assert.Contains("in-process: ", output);
        Assert.Matches(@"hot cache: 1 MiB, [\d,.]+ rows; hit rate [\d.,]+\s?%", output);
        Assert.DoesNotMatch(@"hit rate 0[.,]0\s?%", output);
        Assert.Contains("ratio in-process, hot cache 1 MiB / in-process", output);
    }

    [Fact]
    public void Loadtest_and_serve_refuse_bad_arguments_naming_the_option()
    {
        var (hc, _, hcErr) = Cli("serve", "--model", fixture.CheckpointDirectory, "--config", fixture.ConfigPath, "--hot-cache", "lots");
        Assert.Equal(Program.UsageError, hc);
        Assert.Contains("--hot-cache: 'lots'", hcErr);
        var (code, _, err) = Cli("loadtest", "--target", "ftp://x:1", "--duration", "1");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--target: 'ftp://x:1'", err);
        (code, _, err) = Cli("loadtest", "--target", "inproc", "--duration", "1");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--model", err);
        (code, _, err) = Cli("serve", "--model", fixture.CheckpointDirectory, "--config", fixture.ConfigPath, "--memory", "lots");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--memory: 'lots'", err);
        (code, _, err) = Cli("serve", "--model", fixture.CheckpointDirectory, "--config", fixture.ConfigPath, "--updates-topic", "u");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--bootstrap", err);
        (code, _, err) = Cli("serve", "--model", fixture.CheckpointDirectory, "--config", fixture.ConfigPath, "--format", "bf16");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--format: 'bf16'", err);
        (code, _, err) = Cli("serve", "--model", fixture.CheckpointDirectory, "--config", fixture.ConfigPath, "--table-format", "nope=fp16", "--port", "0",
                             "--store", Path.Combine(fixture.Directory, $"bad-{Guid.NewGuid():N}"));
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("table 'nope'", err);
        (code, _, err) = Cli("serve", "--model", fixture.CheckpointDirectory);
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--config: not given", err);
    }
}
