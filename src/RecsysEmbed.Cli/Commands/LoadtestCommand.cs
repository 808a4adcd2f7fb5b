using System.CommandLine;
using System.Text.Json;
using RecsysEmbed.Client;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Export;
using RecsysEmbed.Serving.Loadgen;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Store;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Training.Checkpoints;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// <c>recsys-embed loadtest --target grpc://127.0.0.1:P|grpc-stream://127.0.0.1:P|http://...|redis://H:P|inproc [--target ...]
/// --features 26 --concurrency C --duration S [--rate R]</c>: the same request shape (F features, one raw value each)
/// against each target in turn, in one run, reporting throughput, p50/p99/p99.9 (HDR histogram) and errors by kind,
/// plus the ratios between every two targets (earlier / later). grpc-stream: each caller owns one LookupStream. Optionally fills Redis with the service's vectors first, and measures
/// end-to-end update freshness through the update topic.
/// </summary>
internal static class LoadtestCommand
{
    public static Command Create()
    {
        var targets = new Option<string[]>("--target") { Description = "grpc://host:port (unary Lookup), grpc-stream://host:port (LookupStream, one stream per caller), grpc-mux://host:port (BatchLookupStream: every caller on one stream, waiting lookups sent together), http://host:port, redis://host:port, inproc, inproc-cached or inproc-resident (every row decoded in memory in front of FASTER) (repeatable; run in order).", Required = true, AllowMultipleArgumentsPerToken = true };
        var features = new Option<int>("--features") { Description = "Features per request (C1..CF), one value each.", DefaultValueFactory = _ => 26 };
        var cardinality = new Option<int>("--cardinality") { Description = "Distinct values per feature the requests draw from.", DefaultValueFactory = _ => 10_000 };
        var concurrency = new Option<int>("--concurrency") { Description = "Concurrent callers.", DefaultValueFactory = _ => 16 };
        var duration = new Option<double>("--duration") { Description = "Seconds measured per target.", DefaultValueFactory = _ => 10 };
        var warmup = new Option<double>("--warmup") { Description = "Seconds of unrecorded warm-up per target.", DefaultValueFactory = _ => 1 };
        var rate = new Option<double?>("--rate") { Description = "Open loop: total requests per second (latency counts from the scheduled time)." };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = "API key for the service." };
        var deadlineMs = new Option<int>("--deadline-ms") { Description = "Per-call deadline (grpc-stream: per message).", DefaultValueFactory = _ => 5000 };
        var redisFill = new Option<string?>("--redis-fill-from") { Description = "Before the run, store in Redis the vector the service at grpc://host:port returns for every feature value." };
        var model = new Option<string?>("--model") { Description = "Training checkpoint directory (inproc target, freshness)." };
        var config = new Option<string?>("--config") { Description = "Model config YAML (inproc target, freshness)." };
        var memory = new Option<string>("--memory") { Description = "inproc: memory of the store's hybrid log.", DefaultValueFactory = _ => "256MiB" };
        var packed = new Option<bool>("--packed") { Description = "gRPC targets ask for packed answers (all vectors in one bytes block, as Redis returns raw values) instead of one FeatureVector per feature." };
        var compact = new Option<bool>("--compact") { Description = "gRPC targets send compact requests (features by model position from ModelInfo, raw values as one UTF-8 block) instead of a name and a string list per feature." };
        var inlineIo = new Option<bool>("--inline-io") { Description = "Complete socket operations on the I/O thread in this process (every network target alike, Redis included)." };
        var muxConnections = new Option<int>("--mux-connections") { Description = "grpc-mux: HTTP/2 connections, each with its own multiplexed stream, lookups spread over them in turn (the service serves one connection's messages one after another).", DefaultValueFactory = _ => 1 };
        var muxInFlight = new Option<int>("--mux-in-flight") { Description = "grpc-mux: messages out at once (1: every lookup waiting during a round trip shares the next message).", DefaultValueFactory = _ => 1 };
        var hotCache = new Option<string>("--hot-cache") { Description = "inproc-cached: memory of the hot-row cache in front of FASTER.", DefaultValueFactory = _ => "64MiB" };
        var zipf = new Option<bool>("--zipf") { Description = "Draw values power-law skewed as the synthetic generator does (exponents 1.05..1.40 per feature) instead of uniformly." };
        var freshness = new Option<int>("--freshness") { Description = "Freshness probes through --updates-topic (needs a grpc target, --model, --config).", DefaultValueFactory = _ => 0 };
        var freshnessFeature = new Option<string>("--freshness-feature") { Description = "Feature whose fresh values the probes update.", DefaultValueFactory = _ => "C1" };
        var topic = new Option<string?>("--updates-topic") { Description = "Update topic the service follows." };
        var bootstrap = new Option<string?>("--bootstrap") { Description = "Kafka bootstrap servers of the update topic." };
        var json = new Option<string?>("--json") { Description = "Write the reports as JSON to this file." };
        var command = new Command("loadtest", "Load-test the lookup service (unary gRPC, gRPC stream, HTTP), Redis or the in-process store with one request shape; report throughput and latency percentiles.")
        {
            targets, features, cardinality, concurrency, duration, warmup, rate, apiKeyFile, deadlineMs, muxInFlight, muxConnections, packed, compact, inlineIo, redisFill, model, config, memory, hotCache, zipf, freshness, freshnessFeature, topic, bootstrap, json,
        };
        command.SetAction(p =>
        {
            var stdout = p.InvocationConfiguration.Output;
            var stderr = p.InvocationConfiguration.Error;
            try
            {
                var shape = new LoadShape(p.GetValue(features), p.GetValue(cardinality)) { Zipf = p.GetValue(zipf), Packed = p.GetValue(packed), Compact = p.GetValue(compact) };
                if (shape.Features < 1) throw new FormatException($"--features: {shape.Features} must be >= 1.");
                if (shape.Cardinality < 1) throw new FormatException($"--cardinality: {shape.Cardinality} must be >= 1.");
                if (p.GetValue(duration) <= 0) throw new FormatException($"--duration: {p.GetValue(duration)} must be > 0.");
                var load = new LoadOptions
                {
                    Concurrency = p.GetValue(concurrency), Duration = TimeSpan.FromSeconds(p.GetValue(duration)), Warmup = TimeSpan.FromSeconds(Math.Max(0, p.GetValue(warmup))),
                    Rate = p.GetValue(rate),
                };
                string? key = p.GetValue(apiKeyFile) is { } f ? File.ReadAllText(f).Trim() : null;
                if (!ByteSize.TryParse(p.GetValue(memory), out long memoryBytes)) throw new FormatException($"--memory: '{p.GetValue(memory)}' is not a size.");
                if (!ByteSize.TryParse(p.GetValue(hotCache), out long hotCacheBytes) || hotCacheBytes <= 0) throw new FormatException($"--hot-cache: '{p.GetValue(hotCache)}' is not a positive size.");
                if (p.GetValue(inlineIo)) InlineIo.EnableSocketCompletions();
                if (p.GetValue(muxConnections) < 1) throw new FormatException($"--mux-connections: {p.GetValue(muxConnections)} is not a positive count.");
                if (p.GetValue(muxInFlight) < 1) throw new FormatException($"--mux-in-flight: {p.GetValue(muxInFlight)} is not a positive count.");
                return Run(p.GetValue(targets) ?? [], shape, load, key, TimeSpan.FromMilliseconds(p.GetValue(deadlineMs)), (p.GetValue(muxInFlight), p.GetValue(muxConnections)), p.GetValue(redisFill), p.GetValue(model), p.GetValue(config),
                           memoryBytes, hotCacheBytes, p.GetValue(freshness), p.GetValue(freshnessFeature)!, p.GetValue(topic), p.GetValue(bootstrap), p.GetValue(json), stdout, stderr);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or IOException or CheckpointException or ConfigException or NotSupportedException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return Program.UsageError;
            }
        });
        return command;
    }

    private static int Run(string[] targets, LoadShape shape, LoadOptions load, string? key, TimeSpan deadline, (int InFlight, int Connections) mux, string? redisFill, string? modelDir, string? configPath,
                           long memory, long hotCache, int freshness, string freshnessFeature, string? topic, string? bootstrap, string? jsonPath, TextWriter stdout, TextWriter stderr)
    {
        if (targets.Length == 0) throw new FormatException("--target: give at least one target.");
        var reports = new List<LoadReport>();
        FreshnessReport? fresh = null;
        string? tempStore = null;
        FasterRowStore? store = null;
        try
        {
            foreach (string t in targets)
            {
                ILoadTarget target = Open(t, shape, key, deadline, mux, modelDir, configPath, memory, hotCache, ref store, ref tempStore);
                try
                {
                    if (target is RedisLoadTarget redis && redisFill is not null)
                    {
                        using var service = new RecsysEmbedClient(GrpcAddress(redisFill), new RecsysEmbedClientOptions { ApiKey = key });
                        long filled = redis.FillFromAsync(service, CancellationToken.None).GetAwaiter().GetResult();
                        stderr.WriteLine($"redis: stored {filled:N0} vectors from {redisFill}");
                    }
                    stderr.WriteLine($"running {target.Name}: {load.Concurrency} callers, {load.Duration.TotalSeconds:F0} s{(load.Rate is { } r ? $", {r:N0} req/s" : "")}");
                    var report = LoadGenerator.RunAsync(target, shape, load).GetAwaiter().GetResult();
                    reports.Add(report);
                    stdout.WriteLine(report);
                    if (target is GrpcMuxLoadTarget { Pool: var pool })
                        stdout.WriteLine($"grpc-mux: {pool.Lookups:N0} lookups in {pool.Messages:N0} messages (mean {pool.Lookups / Math.Max(1.0, pool.Messages):F1} per message, at most {pool.Options.MaxMessagesInFlight} in flight on each of {pool.Multiplexers.Count} connection(s); warm-up included)");
                    if (target is InProcessLoadTarget { Engine.Store: { Cache: { } cache } cached })
                    {
                        var (hits, misses) = cached.CacheCounts();
                        stdout.WriteLine($"hot cache: {cache.Bytes / (1 << 20)} MiB, {cache.Capacity:N0} rows; hit rate {hits / Math.Max(1.0, hits + misses):P1} over {hits + misses:N0} row reads (warm-up included)");
                    }
                    if (target is InProcessLoadTarget { Engine.Store: { Resident: { } tier } held })
                    {
                        var (hits, misses) = held.CacheCounts();
                        stdout.WriteLine($"resident rows: {tier.Bytes / (1 << 20)} MiB; {hits / Math.Max(1.0, hits + misses):P1} of {hits + misses:N0} row reads from memory (warm-up included)");
                    }
                }
                finally
                {
                    target.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
            }
            for (int a = 0; a < reports.Count; a++)
            {
                for (int b = a + 1; b < reports.Count; b++)
                {
                    if (reports[a].CallsPerSecond <= 0 || reports[b].CallsPerSecond <= 0)
                    {
                        // A target that completed no call has no latency to compare (its errors are in its report).
                        var idle = reports[a].CallsPerSecond <= 0 ? reports[a] : reports[b];
                        stdout.WriteLine($"ratio {reports[a].Target} / {reports[b].Target}: none ({idle.Target} completed no call)");
                        continue;
                    }
                    stdout.WriteLine($"ratio {reports[a].Target} / {reports[b].Target}: throughput {reports[a].CallsPerSecond / reports[b].CallsPerSecond:F2}x, " +
                                     $"p99 {reports[a].P99Us / reports[b].P99Us:F2}x");
                }
            }
            if (freshness > 0)
            {
                string grpc = targets.FirstOrDefault(t => t.StartsWith("grpc://", StringComparison.Ordinal) || t.StartsWith("grpc-stream://", StringComparison.Ordinal)
                                                         || t.StartsWith("grpc-mux://", StringComparison.Ordinal))
                    ?? throw new FormatException("--freshness needs a grpc://, grpc-stream:// or grpc-mux:// target.");
                if (topic is null || bootstrap is null || modelDir is null || configPath is null) throw new FormatException("--freshness needs --updates-topic, --bootstrap, --model and --config.");
                var model = ServingModel.Create(ModelConfig.Load(configPath), CheckpointReader.OpenLatest(modelDir, fallBackToPrevious: true));
                using var endpoint = KafkaEndpoint.Resolve(bootstrap);
                using var client = new RecsysEmbedClient(GrpcAddress(grpc), new RecsysEmbedClientOptions { ApiKey = key, DefaultDeadline = deadline });
                fresh = FreshnessProbe.MeasureAsync(client, model, endpoint.ProducerConfig(), topic, freshness, freshnessFeature).GetAwaiter().GetResult();
                stdout.WriteLine(fresh);
            }
            if (jsonPath is not null)
                File.WriteAllText(jsonPath, JsonSerializer.Serialize(new { reports, freshness = fresh }, new JsonSerializerOptions { WriteIndented = true }));
            return reports.Any(r => r.Calls == 0) ? 1 : 0;
        }
        finally
        {
            store?.Dispose();
            if (tempStore is not null) try { Directory.Delete(tempStore, recursive: true); } catch (IOException) { }
        }
    }

    private static string GrpcAddress(string target) => "http://" + target[(target.IndexOf("://", StringComparison.Ordinal) + 3)..].TrimEnd('/');

    private static ILoadTarget Open(string target, LoadShape shape, string? key, TimeSpan deadline, (int InFlight, int Connections) mux, string? modelDir, string? configPath, long memory, long hotCache,
                                    ref FasterRowStore? store, ref string? tempStore)
    {
        if (target.StartsWith("grpc://", StringComparison.Ordinal)) return new GrpcLoadTarget(GrpcAddress(target), shape, key, deadline);
        if (target.StartsWith("grpc-stream://", StringComparison.Ordinal)) return new GrpcStreamLoadTarget(GrpcAddress(target), shape, key, deadline);
        if (target.StartsWith("grpc-mux://", StringComparison.Ordinal)) return new GrpcMuxLoadTarget(GrpcAddress(target), shape, key, deadline, mux.InFlight, mux.Connections);
        if (target.StartsWith("http://", StringComparison.Ordinal)) return new HttpLoadTarget(target, shape, key, deadline);
        if (target.StartsWith("redis://", StringComparison.Ordinal)) return new RedisLoadTarget(target["redis://".Length..].TrimEnd('/'), shape);
        if (target is "inproc" or "inproc-cached" or "inproc-resident")
        {
            if (modelDir is null || configPath is null) throw new FormatException($"--target {target} needs --model and --config.");
            // The previous in-process target has run and been disposed: free its store before loading the next.
            store?.Dispose();
            store = null;
            if (tempStore is not null) try { Directory.Delete(tempStore, recursive: true); } catch (IOException) { }
            var checkpoint = CheckpointReader.OpenLatest(modelDir, fallBackToPrevious: true);
            var model = ServingModel.Create(ModelConfig.Load(configPath), checkpoint);
            var catalog = new RowCatalog(model.Tables, _ => RowFormat.Fp32);
            tempStore = Path.Combine(Path.GetTempPath(), $"recsys-loadtest-{Guid.NewGuid():N}");
            store = FasterRowStore.Open(catalog, new RowStoreOptions
            {
                CheckpointDirectory = Path.Combine(tempStore, "checkpoints"), LogDevicePath = Path.Combine(tempStore, "log", "hlog"),
                MemoryBudgetBytes = memory, ExpectedRows = catalog.TotalRows, HotCacheBytes = target == "inproc-cached" ? hotCache : 0,
                Resident = target == "inproc-resident",
            });
            var loaded = store.BulkLoad(checkpoint, checkpoint.Step, Environment.ProcessorCount);
            Console.Error.WriteLine($"inproc: bulk-loaded {loaded.Rows:N0} rows in {loaded.Seconds:F2} s ({loaded.RowsPerSecond:N0} rows/s)");
            return new InProcessLoadTarget(new LookupEngine(model, store), shape);
        }
        throw new FormatException($"--target: '{target}' is not grpc://host:port, grpc-stream://host:port, grpc-mux://host:port, http://host:port, redis://host:port, inproc, inproc-cached or inproc-resident.");
    }
}
