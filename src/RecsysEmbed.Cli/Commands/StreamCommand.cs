using System.CommandLine;
using System.Text.Json;
using Confluent.Kafka;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Updates;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Synthetic;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Streaming.Producing;
using RecsysEmbed.Streaming.Training;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Checkpoints;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// <c>recsys-embed stream produce|train|tail-updates</c>: the online path. <c>produce</c> replays a dataset into a
/// topic; <c>train</c> trains from it with exactly-once resume, a dead-letter topic and update publication;
/// <c>tail-updates</c> shows what was published. <c>--bootstrap embedded</c> starts a broker in the process (useful
/// within one process only; <c>kafka up</c> runs one that several processes share).
/// </summary>
internal static class StreamCommand
{
    public static Command Create() => new("stream", "Online training from Kafka: replay producer, stream trainer, update tail.")
    {
        Produce(), Train(), TailUpdates(),
    };

    private static Option<string> Bootstrap() => new("--bootstrap") { Description = "host:port[,host:port...] of a Kafka cluster, or 'embedded' (a broker in this process).", Required = true };
    private static Option<string[]> Properties() => new("--kafka-property") { Description = "Client setting passed through, key=value (security.protocol, sasl.*, ssl.*); repeatable.", AllowMultipleArgumentsPerToken = true };

    private static Command Produce()
    {
        var data = new Option<string?>("--data") { Description = "Dataset file to replay (any reader: criteo, avazu, movielens, libfm)." };
        var format = new Option<string>("--format") { Description = "criteo | avazu | movielens | libfm | auto (by file name).", DefaultValueFactory = _ => "auto" };
        var synth = new Option<bool>("--synth") { Description = "Replay the synthetic Criteo-schema generator instead of a file." };
        var rows = new Option<long>("--rows") { Description = "Rows to generate with --synth.", DefaultValueFactory = _ => 100_000 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of --synth.", DefaultValueFactory = _ => 1 };
        var topic = new Option<string>("--topic") { Description = "Topic to produce to (NAME or NAME:PARTITIONS; partitions are used when the broker is embedded).", Required = true };
        var bootstrap = Bootstrap();
        var props = Properties();
        var rate = new Option<double>("--rate") { Description = "Records per second (0: as fast as possible).", DefaultValueFactory = _ => 0 };
        var keyField = new Option<string?>("--key-field") { Description = "Sparse feature whose id keys each message (default: the first sparse feature)." };
        var maxLag = new Option<long?>("--max-lag") { Description = "Wait while the --lag-group has more than N records uncommitted (required with an embedded broker: it keeps only ~5 MiB per partition)." };
        var lagGroup = new Option<string?>("--lag-group") { Description = "Consumer group (the trainer's) whose committed offsets measure the lag." };
        var maxRecords = new Option<long?>("--max-records") { Description = "Stop after N records." };
        var command = new Command("produce", "Replay a dataset into a topic, one record per message, idempotent, acks=all.")
        {
            data, format, synth, rows, seed, topic, bootstrap, props, rate, keyField, maxLag, lagGroup, maxRecords,
        };
        command.SetAction(p =>
        {
            var stdout = p.InvocationConfiguration.Output;
            var stderr = p.InvocationConfiguration.Error;
            try
            {
                var spec = TopicSpec.Parse(p.GetValue(topic)!, defaultPartitions: 4);
                using var endpoint = KafkaEndpoint.Resolve(p.GetValue(bootstrap)!, p.GetValue(props), [spec]);
                if (endpoint.IsEmbedded && p.GetValue(maxLag) is null)
                    stderr.WriteLine("warning: the embedded broker keeps only ~5 MiB per partition and stops with this process; use 'kafka up' to share one, and --max-lag to bound lag.");
                string? tempDir = null;
                string path;
                if (p.GetValue(synth))
                {
                    tempDir = Directory.CreateTempSubdirectory("recsys-produce-").FullName;
                    path = Path.Combine(tempDir, "synthetic.tsv");
                    new SyntheticCtrGenerator(new SyntheticOptions { Rows = p.GetValue(rows), Seed = p.GetValue(seed), ComputeBestAuc = false }).GenerateFile(path);
                }
                else path = p.GetValue(data) ?? throw new ArgumentException("give --data FILE or --synth.");
                try
                {
                    using var reader = CtrReaders.Open(path, p.GetValue(format)!, new CtrReaderOptions(), null);
                    var options = new ReplayOptions
                    {
                        Topic = spec.Name, RatePerSecond = p.GetValue(rate), KeyField = p.GetValue(keyField), MaxLag = p.GetValue(maxLag),
                        LagGroup = p.GetValue(lagGroup), MaxRecords = p.GetValue(maxRecords),
                    };
                    var report = ReplayProducer.Run(reader, endpoint, options, r => stderr.WriteLine($"  {r.Sent:N0} sent, {r.Acknowledged:N0} acknowledged, {r.RecordsPerSecond:N0}/s"));
                    stdout.WriteLine($"sent {report.Sent:N0} records, acknowledged {report.Acknowledged:N0}, failed {report.Failed:N0} in {report.Seconds:F1} s ({report.RecordsPerSecond:N0} records/s){(report.FirstError is null ? "" : $"; first error: {report.FirstError}")}");
                    return report.Failed == 0 ? 0 : 1;
                }
                finally
                {
                    if (tempDir is not null) Directory.Delete(tempDir, recursive: true);
                }
            }
            catch (Exception e) when (e is FormatException or ArgumentException or FileNotFoundException or DirectoryNotFoundException or MalformedRecordException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return Program.UsageError;
            }
        });
        return command;
    }

    private static Command Train()
    {
        var config = new Option<string>("--config", "-c") { Description = "Model config YAML.", Required = true };
        var topic = new Option<string>("--topic") { Description = "Topic to train from.", Required = true };
        var bootstrap = Bootstrap();
        var props = Properties();
        var group = new Option<string>("--group") { Description = "Consumer group.", Required = true };
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint directory (model + offsets); the trainer resumes from it.", Required = true };
        var publish = new Option<string?>("--publish-topic") { Description = "Publish changed embedding rows and the dense model to this topic." };
        var deadLetter = new Option<string?>("--dead-letter-topic") { Description = "Topic for malformed records (default: <topic>.dlq)." };
        var batch = new Option<int?>("--batch-size") { Description = "Records per micro-batch (default: config training.batch_size)." };
        var every = new Option<int>("--checkpoint-every") { Description = "Checkpoint every N batches (0: on time only).", DefaultValueFactory = _ => 50 };
        var interval = new Option<int>("--checkpoint-interval-ms") { Description = "Also checkpoint after this long (0: off).", DefaultValueFactory = _ => 30_000 };
        var publishInterval = new Option<int>("--publish-interval-ms") { Description = "Publish at most this often between checkpoints.", DefaultValueFactory = _ => 1_000 };
        var maxBytes = new Option<int>("--max-record-bytes") { Description = "Larger records are dead-lettered as oversized.", DefaultValueFactory = _ => 64 << 10 };
        var stopAfter = new Option<long?>("--stop-after") { Description = "Stop once N records (trained + dead-lettered + lost) are accounted for, draining the last partial batches." };
        var threads = new Option<int>("--threads") { Description = "Threads (1: deterministic).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var trackIds = new Option<bool>("--track-ids") { Description = "Keep every trained record id in the checkpoints (exactly-once audits)." };
        var events = new Option<bool>("--events") { Description = "Print every event (batch, checkpoint, ...) on stdout, one line each." };
        var stepEvents = new Option<bool>("--step-events")
        {
            Description = "With --events: after each event line, wait for one line on stdin before going on (a fault-injection harness can then stop the trainer at an exact point). A closed stdin releases it.",
        };
        var metricsOut = new Option<string?>("--metrics-out") { Description = "Keep the metrics (online AUC, log loss, counts, freshness, ...) as JSON in this file, rewritten after every checkpoint and at the end." };
        var json = new Option<bool>("--json") { Description = "Print the final report as one JSON object on stdout." };
        var command = new Command("train", "Train online from a topic: progressive metrics, checkpoints with offsets (exactly-once resume), dead letters, update publication.")
        {
            config, topic, bootstrap, props, group, checkpoint, publish, deadLetter, batch, every, interval, publishInterval, maxBytes, stopAfter, threads, trackIds, events, stepEvents, metricsOut, json,
        };
        command.SetAction(p =>
        {
            var stdout = p.InvocationConfiguration.Output;
            var stderr = p.InvocationConfiguration.Error;
            using var stop = new CancellationTokenSource();
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
            try
            {
                var model = ModelConfig.Load(p.GetValue(config)!);
                var spec = TopicSpec.Parse(p.GetValue(topic)!, defaultPartitions: 4);
                // On an embedded broker, also create the dead-letter and update topics (the mock has no admin API).
                List<TopicSpec> topics = [spec, new(p.GetValue(deadLetter) ?? spec.Name + ".dlq", 1)];
                if (p.GetValue(publish) is { } updates) topics.Add(new TopicSpec(updates, spec.Partitions));
                using var endpoint = KafkaEndpoint.Resolve(p.GetValue(bootstrap)!, p.GetValue(props), topics);
                var options = new StreamTrainerOptions
                {
                    Topic = spec.Name, GroupId = p.GetValue(group)!, CheckpointDir = p.GetValue(checkpoint)!, PublishTopic = p.GetValue(publish),
                    DeadLetterTopic = p.GetValue(deadLetter), BatchRecords = p.GetValue(batch), CheckpointEveryBatches = p.GetValue(every),
                    CheckpointIntervalMs = p.GetValue(interval), PublishIntervalMs = p.GetValue(publishInterval), MaxRecordBytes = p.GetValue(maxBytes),
                    StopAfterRecords = p.GetValue(stopAfter), Threads = p.GetValue(threads), TrackRecordIds = p.GetValue(trackIds),
                };
                bool printEvents = p.GetValue(events);
                if (p.GetValue(stepEvents) && !printEvents) throw new ArgumentException("--step-events needs --events (it waits after each printed event)");
                var step = p.GetValue(stepEvents) ? Console.In : null;
                var report = StreamRunner.Train(model, endpoint, options, stdout, stderr, printEvents, stop.Token, p.GetValue(metricsOut), step);
                if (p.GetValue(metricsOut) is { } file) StreamRunner.WriteMetrics(report, file);
                if (p.GetValue(json)) stdout.WriteLine(JsonSerializer.Serialize(report, SummaryJson.Compact));
                else StreamRunner.WriteReport(report, stdout);
                return 0;
            }
            catch (ConfigException e)
            {
                stderr.WriteLine($"error: {p.GetValue(config)}: {e.Message}");
                return Program.UsageError;
            }
            catch (Exception e) when (e is FormatException or ArgumentException or FileNotFoundException or DirectoryNotFoundException or CheckpointException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return Program.UsageError;
            }
        });
        return command;
    }

    private static Command TailUpdates()
    {
        var topic = new Option<string>("--topic") { Description = "Update topic.", Required = true };
        var bootstrap = Bootstrap();
        var props = Properties();
        var max = new Option<long?>("--max") { Description = "Stop after N records." };
        var idle = new Option<int>("--idle-exit-ms") { Description = "Stop when nothing arrived for this long (0: never).", DefaultValueFactory = _ => 0 };
        var values = new Option<int>("--values") { Description = "Row values to show per record.", DefaultValueFactory = _ => 4 };
        var command = new Command("tail-updates", "Show the embedding updates a stream trainer publishes (from the beginning of the topic).") { topic, bootstrap, props, max, idle, values };
        command.SetAction(p =>
        {
            var stdout = p.InvocationConfiguration.Output;
            var stderr = p.InvocationConfiguration.Error;
            try
            {
                using var endpoint = KafkaEndpoint.Resolve(p.GetValue(bootstrap)!, p.GetValue(props));
                using var stop = new CancellationTokenSource();
                Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
                return StreamRunner.Tail(endpoint, p.GetValue(topic)!, p.GetValue(max), p.GetValue(idle), p.GetValue(values), stdout, stop.Token);
            }
            catch (FormatException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return Program.UsageError;
            }
        });
        return command;
    }
}

/// <summary>The stream trainer with a progress display, shared by <c>stream train</c> and the quickstart.</summary>
internal static class StreamRunner
{
    public static StreamTrainerReport Train(ModelConfig model, KafkaEndpoint endpoint, StreamTrainerOptions options, TextWriter stdout, TextWriter stderr,
                                            bool printEvents, CancellationToken cancel, string? metricsOut = null, TextReader? stepGate = null)
    {
        StreamTrainer? trainer = null;
        var last = DateTime.UtcNow;
        void OnEvent(StreamEvent e)
        {
            if (printEvents)
            {
                stdout.WriteLine($"event {e.Kind} batches={e.Batches} accounted={e.Accounted} {e.Message}");
                stdout.Flush();
                if (stepGate?.ReadLine() is null) stepGate = null; // end of input: run freely from here on
            }
            else if (e.Kind is not (StreamEventKind.Batch or StreamEventKind.Published or StreamEventKind.Checkpoint or StreamEventKind.DeadLetter))
            {
                stderr.WriteLine(e.Message);
            }
            if (trainer is not null && metricsOut is not null && e.Kind == StreamEventKind.Checkpoint) WriteMetrics(trainer.Report(), metricsOut);
            if (trainer is not null && e.Kind == StreamEventKind.Batch && (DateTime.UtcNow - last).TotalSeconds >= 5)
            {
                last = DateTime.UtcNow;
                var r = trainer.Report();
                stderr.WriteLine($"  {r.RecordsTrained:N0} trained, {r.RecordsDeadLettered:N0} dead-lettered, {r.RecordsLost:N0} lost; {r.SamplesPerSecond:N0} samples/s; AUC(window) {r.WindowAuc:F4}, log loss {r.ProgressiveLogLoss:F4}; freshness p50 {r.FreshnessP50Ms:F0} ms");
            }
        }
        trainer = new StreamTrainer(model, endpoint, options, OnEvent);
        using (trainer) return trainer.Run(cancel);
    }

    /// <summary>Replaces the metrics file atomically (write a temp file, rename), so a reader never sees half a file.</summary>
    public static void WriteMetrics(StreamTrainerReport report, string path)
    {
        string temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(report, SummaryJson.Options));
        File.Move(temp, path, overwrite: true);
    }

    public static void WriteReport(StreamTrainerReport r, TextWriter output)
    {
        output.WriteLine($"online training: {r.RecordsTrained:N0} records trained in {r.Batches:N0} batches, {r.RecordsDeadLettered:N0} dead-lettered, {r.RecordsLost:N0} lost; {r.WallSeconds:F1} s, {r.SamplesPerSecond:N0} samples/s");
        output.WriteLine($"  progressive validation (each batch scored before training on it): AUC {r.ProgressiveAuc:F5}, window AUC {r.WindowAuc:F5}, log loss {r.ProgressiveLogLoss:F5}");
        output.WriteLine($"  checkpoints {r.Checkpoints}; publications {r.Publications} ({r.RowsPublished:N0} rows)");
        if (r.FreshnessP50Ms is not null) output.WriteLine($"  freshness (record produced -> its rows published): p50 {r.FreshnessP50Ms:F0} ms, p99 {r.FreshnessP99Ms:F0} ms");
        if (r.ResumedFromStep is not null) output.WriteLine($"  resumed from checkpoint step {r.ResumedFromStep}");
        if (r.Outages > 0) output.WriteLine($"  broker outages: {r.Outages} ({r.OutageSeconds:F1} s), resumed without loss");
    }

    public static int Tail(KafkaEndpoint endpoint, string topic, long? max, int idleExitMs, int showValues, TextWriter stdout, CancellationToken cancel)
    {
        var config = endpoint.ConsumerConfig($"recsys-tail-{Guid.NewGuid():N}");
        config.AutoOffsetReset = AutoOffsetReset.Earliest;
        config.EnableAutoCommit = false;
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
        consumer.Subscribe(topic);
        long seen = 0;
        var idle = System.Diagnostics.Stopwatch.StartNew();
        var values = new float[EmbeddingUpdateCodec.MaxDim];
        while (!cancel.IsCancellationRequested && (max is null || seen < max) && (idleExitMs == 0 || idle.ElapsedMilliseconds < idleExitMs))
        {
            var r = consumer.Consume(100);
            if (r is null) continue;
            idle.Restart();
            seen++;
            try
            {
                byte kind = EmbeddingUpdateCodec.KindOf(r.Message.Key);
                if (kind == EmbeddingUpdateCodec.VocabularyKind)
                {
                    var v = EmbeddingUpdateCodec.DecodeVocabulary(r.Message.Key, r.Message.Value);
                    stdout.WriteLine($"vocab p{r.Partition.Value}@{r.Offset.Value} version {v.ModelVersion} {v.Feature}[{v.FirstIndex}..{v.FirstIndex + v.Ids.Length - 1}] {v.Ids.Length} ids");
                }
                else if (kind == EmbeddingUpdateCodec.RowKind)
                {
                    var (table, row) = EmbeddingUpdateCodec.DecodeRowKey(r.Message.Key);
                    var (dim, version, source) = EmbeddingUpdateCodec.DecodeValuesInto(r.Message.Value, values);
                    string shown = string.Join(", ", values.Take(Math.Min(dim, showValues)).Select(v => v.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)));
                    stdout.WriteLine($"row   p{r.Partition.Value}@{r.Offset.Value} version {version} {table}[{row}] dim {dim} source {DateTimeOffset.FromUnixTimeMilliseconds(source):HH:mm:ss.fff} [{shown}{(dim > showValues ? ", ..." : "")}]");
                }
                else
                {
                    var d = EmbeddingUpdateCodec.DecodeDense(r.Message.Value);
                    stdout.WriteLine($"dense p{r.Partition.Value}@{r.Offset.Value} version {d.ModelVersion} {d.Payload.Length:N0} bytes source {DateTimeOffset.FromUnixTimeMilliseconds(d.SourceTimeUnixMs):HH:mm:ss.fff}");
                }
            }
            catch (FormatException e)
            {
                stdout.WriteLine($"bad   p{r.Partition.Value}@{r.Offset.Value}: {e.Message}");
            }
        }
        consumer.Close();
        return 0;
    }
}
