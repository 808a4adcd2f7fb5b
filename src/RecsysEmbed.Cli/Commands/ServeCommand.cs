using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Export;
using RecsysEmbed.Serving.Service;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Training.Checkpoints;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// <c>recsys-embed serve --model DIR --config FILE --port P [--bind 127.0.0.1] [--updates-topic U --bootstrap ...]
/// [--api-key-file F]</c>: the lookup service (gRPC on P, HTTP/JSON on --http-port) over a FASTER store loaded from
/// the newest training checkpoint in DIR, following the trainer's update topic. Runs until Ctrl-C or SIGTERM, then
/// checkpoints the store.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Training checkpoint directory (train --checkpoint DIR).", Required = true };
        var config = new Option<string?>("--config", "-c") { Description = "Model config YAML the checkpoint was trained with (default: DIR/model.yaml)." };
        var port = new Option<int>("--port") { Description = "gRPC port (cleartext HTTP/2); 0 picks a free one.", DefaultValueFactory = _ => 8500 };
        var httpPort = new Option<int?>("--http-port") { Description = "HTTP/JSON port (HTTP/1.1); default --port + 1 (a free one with --port 0)." };
        var bind = new Option<string>("--bind") { Description = "Address to bind.", DefaultValueFactory = _ => "127.0.0.1" };
        var store = new Option<string?>("--store") { Description = "Store directory (FASTER checkpoints; default MODEL/../serving-store)." };
        var logDevice = new Option<string?>("--log-device") { Description = "File of the hybrid log for rows beyond --memory (default STORE/log/hlog)." };
        var memory = new Option<string>("--memory") { Description = "Memory for the in-memory part of the hybrid log (e.g. 256MiB).", DefaultValueFactory = _ => "256MiB" };
        var hotCache = new Option<string>("--hot-cache") { Description = "Memory for the hot-row cache in front of FASTER (decoded fp32 rows filled on read misses, e.g. 64MiB); 0 = none.", DefaultValueFactory = _ => "0" };
        var resident = new Option<bool>("--resident") { Description = "Keep every row decoded in memory in front of FASTER too (reads become an array index and a copy; 16 B + 4 B a value per row beside the log). Excludes --hot-cache." };
        var format = new Option<string>("--format") { Description = "Row format of every table: fp32, fp16, int8.", DefaultValueFactory = _ => "fp32" };
        var tableFormat = new Option<string[]>("--table-format") { Description = "Per-table row format TABLE=fp32|fp16|int8 (repeatable).", AllowMultipleArgumentsPerToken = true };
        var topic = new Option<string?>("--updates-topic") { Description = "Update topic the trainer publishes (stream train --publish-topic)." };
        var bootstrap = new Option<string?>("--bootstrap") { Description = "Kafka bootstrap servers host:port,... or 'embedded'." };
        var kafkaProps = new Option<string[]>("--kafka-property") { Description = "Kafka client setting key=value (SASL/SSL...), repeatable.", AllowMultipleArgumentsPerToken = true };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = "File holding the API key every request must send (x-api-key)." };
        var maxConcurrent = new Option<int>("--max-concurrent") { Description = "Requests executing at once.", DefaultValueFactory = _ => Math.Max(2, Environment.ProcessorCount * 2) };
        var maxQueue = new Option<int>("--max-queue") { Description = "Requests waiting for a slot; beyond it RESOURCE_EXHAUSTED / 429.", DefaultValueFactory = _ => 256 };
        var maxValues = new Option<int>("--max-values") { Description = "Values per feature in one request.", DefaultValueFactory = _ => 256 };
        var staleness = new Option<long>("--staleness-bound") { Description = "Rows may be newer than the dense model by at most this many versions.", DefaultValueFactory = _ => 1000 };
        var checkpointEvery = new Option<long>("--checkpoint-every") { Description = "Checkpoint the store after this many update records.", DefaultValueFactory = _ => 100_000 };
        var inlineIo = new Option<bool>("--inline-io")
        {
            Description = "Handle requests on the socket I/O threads (Kestrel inline scheduling, inline socket completions): fewer thread switches per call. A slow call (large Score batch) then delays other connections.",
        };
        var checkpointSeconds = new Option<double>("--checkpoint-seconds") { Description = "... or this many seconds, whichever first.", DefaultValueFactory = _ => 30 };
        var command = new Command("serve", "Serve embeddings and CTR scores over gRPC and HTTP/JSON from a FASTER store fed by the trainer's updates.")
        {
            model, config, port, httpPort, bind, store, logDevice, memory, format, tableFormat, topic, bootstrap, kafkaProps, apiKeyFile,
            maxConcurrent, maxQueue, maxValues, staleness, checkpointEvery, checkpointSeconds, hotCache, resident, inlineIo,
        };
        command.SetAction(p =>
        {
            var stderr = p.InvocationConfiguration.Error;
            ServeOptions options;
            try
            {
                options = Options(p, model, config, port, httpPort, bind, store, logDevice, memory, format, tableFormat, topic, bootstrap, kafkaProps, apiKeyFile,
                                  maxConcurrent, maxQueue, maxValues, staleness, checkpointEvery, checkpointSeconds, hotCache, resident);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or IOException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return Program.UsageError;
            }
            if (p.GetValue(inlineIo))
            {
                InlineIo.EnableSocketCompletions();
                options = options with { Service = options.Service with { InlineIo = true } };
            }
            return Run(options, p.InvocationConfiguration.Output, stderr, CancellationToken.None);
        });
        return command;
    }

    private static ServeOptions Options(ParseResult p, Option<string> model, Option<string?> config, Option<int> port, Option<int?> httpPort, Option<string> bind,
        Option<string?> store, Option<string?> logDevice, Option<string> memory, Option<string> format, Option<string[]> tableFormat, Option<string?> topic,
        Option<string?> bootstrap, Option<string[]> kafkaProps, Option<string?> apiKeyFile, Option<int> maxConcurrent, Option<int> maxQueue, Option<int> maxValues,
        Option<long> staleness, Option<long> checkpointEvery, Option<double> checkpointSeconds, Option<string> hotCache, Option<bool> resident)
    {
        if (!ByteSize.TryParse(p.GetValue(hotCache), out long hotCacheBytes) || hotCacheBytes < 0) throw new FormatException($"--hot-cache: '{p.GetValue(hotCache)}' is not a size (e.g. 64MiB, or 0 for none).");
        if (p.GetValue(resident) && hotCacheBytes > 0) throw new FormatException($"--resident and --hot-cache {p.GetValue(hotCache)} exclude each other: a resident store already holds every row in memory.");
        if (!IPAddress.TryParse(p.GetValue(bind), out var address)) throw new FormatException($"--bind: '{p.GetValue(bind)}' is not an IP address.");
        if (!ByteSize.TryParse(p.GetValue(memory), out long memoryBytes)) throw new FormatException($"--memory: '{p.GetValue(memory)}' is not a size (e.g. 256MiB).");
        var formats = new Dictionary<string, RowFormat>(StringComparer.Ordinal);
        foreach (string item in p.GetValue(tableFormat) ?? [])
        {
            int eq = item.IndexOf('=');
            if (eq <= 0) throw new FormatException($"--table-format: '{item}' is not TABLE=fp32|fp16|int8.");
            formats[item[..eq]] = ParseFormat("--table-format", item[(eq + 1)..]);
        }
        string? keyFile = p.GetValue(apiKeyFile);
        string? apiKey = null;
        if (keyFile is not null)
        {
            apiKey = File.ReadAllText(keyFile).Trim();
            if (apiKey.Length == 0) throw new FormatException($"--api-key-file: {keyFile} is empty.");
        }
        string modelDir = p.GetValue(model)!;
        string configPath = p.GetValue(config) ?? Path.Combine(modelDir, "model.yaml");
        if (!File.Exists(configPath))
            throw new FormatException(p.GetValue(config) is null ? $"--config: not given and {configPath} does not exist; name the model config YAML." : $"--config: {configPath} does not exist.");
        string? topicName = p.GetValue(topic);
        string? bootstrapText = p.GetValue(bootstrap);
        if (topicName is not null && bootstrapText is null) throw new FormatException("--updates-topic needs --bootstrap (host:port,... or embedded).");
        return new ServeOptions
        {
            ConfigPath = configPath,
            ModelDirectory = modelDir,
            StoreDirectory = p.GetValue(store) ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelDir))!, "serving-store"),
            LogDevicePath = p.GetValue(logDevice),
            MemoryBudgetBytes = memoryBytes,
            HotCacheBytes = hotCacheBytes,
            Resident = p.GetValue(resident),
            DefaultFormat = ParseFormat("--format", p.GetValue(format)!),
            TableFormats = formats,
            UpdatesTopic = topicName,
            Kafka = bootstrapText is null ? null : KafkaEndpoint.Resolve(bootstrapText, p.GetValue(kafkaProps), topicName is null ? null : [new TopicSpec(topicName, 1)]),
            CheckpointEveryRecords = Math.Max(1, p.GetValue(checkpointEvery)),
            CheckpointInterval = TimeSpan.FromSeconds(Math.Max(0.1, p.GetValue(checkpointSeconds))),
            Service = new LookupServiceOptions
            {
                Bind = address, Port = p.GetValue(port), HttpPort = p.GetValue(httpPort), ApiKey = apiKey,
                MaxConcurrent = p.GetValue(maxConcurrent), MaxQueue = p.GetValue(maxQueue), MaxValuesPerFeature = p.GetValue(maxValues),
                StalenessBound = p.GetValue(staleness),
            },
        };
    }

    private static RowFormat ParseFormat(string option, string text)
    {
        try { return RowCodec.Parse(text); }
        catch (ArgumentException) { throw new FormatException($"{option}: '{text}' is not fp32, fp16 or int8."); }
    }

    /// <summary>Starts the service, prints its addresses, and runs until <paramref name="stop"/>, Ctrl-C or SIGTERM.</summary>
    public static int Run(ServeOptions options, TextWriter stdout, TextWriter stderr, CancellationToken stop)
    {
        using var signalled = CancellationTokenSource.CreateLinkedTokenSource(stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; signalled.Cancel(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; signalled.Cancel(); });
        LookupServiceHost host;
        try
        {
            host = LookupServiceHost.StartAsync(options, stderr).GetAwaiter().GetResult();
        }
        catch (ConfigException e)
        {
            stderr.WriteLine($"error: {options.ConfigPath}: {e.Message}");
            options.Kafka?.Dispose();
            return Program.UsageError;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or ArgumentException or CheckpointException or InvalidDataException or InvalidOperationException or NotSupportedException)
        {
            stderr.WriteLine($"error: {e.Message}");
            options.Kafka?.Dispose();
            return Program.UsageError;
        }
        try
        {
            stdout.WriteLine($"grpc: {host.Server.GrpcAddress}");
            stdout.WriteLine($"http: {host.Server.HttpAddress}");
            if (options.Kafka is { IsEmbedded: true } k) stdout.WriteLine($"bootstrap: {k.BootstrapServers}");
            stdout.WriteLine("serving; Ctrl-C or SIGTERM stops it.");
            stdout.Flush();
            WaitHandle.WaitAny([signalled.Token.WaitHandle, ((IAsyncResult)(host.Updates ?? Task.Delay(Timeout.Infinite, signalled.Token))).AsyncWaitHandle]);
            if (host.Updates is { IsFaulted: true } failed)
            {
                stderr.WriteLine($"error: update loop stopped: {failed.Exception!.GetBaseException().Message}");
                return 1;
            }
            stderr.WriteLine("stopping: final store checkpoint.");
            return 0;
        }
        finally
        {
            host.DisposeAsync().AsTask().GetAwaiter().GetResult();
            options.Kafka?.Dispose();
        }
    }
}
