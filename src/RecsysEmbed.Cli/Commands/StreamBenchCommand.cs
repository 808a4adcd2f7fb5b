using System.CommandLine;
using System.Diagnostics;
using Confluent.Kafka;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Schema;
using RecsysEmbed.Data.Synthetic;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Streaming.Producing;
using RecsysEmbed.Streaming.Records;
using RecsysEmbed.Streaming.Training;
using RecsysEmbed.Training;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// <c>recsys-embed bench stream</c>: online training throughput against the embedded broker, with offline training of
/// the same model and batch size as the baseline, in one run:
/// <code>
///   offline            TrainingRun over the file                                   samples/s (baseline)
///   stream             stream trainer over the pre-filled topic, no publication     samples/s, ratio to offline
///   consumer path      consume + validate + parse into batches of B, no training    records/s
///   live               producer at --rate while the trainer trains and publishes    samples/s, freshness p50/p99
/// </code>
/// </summary>
internal static class StreamBenchCommand
{
    public static Command Create()
    {
        var rows = new Option<long>("--rows") { Description = "Synthetic Criteo-schema rows.", DefaultValueFactory = _ => 200_000 };
        var config = new Option<string?>("--config") { Description = "Model config (default: the embedded configs/criteo-ue.yaml)." };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 2048 };
        var partitions = new Option<int>("--partitions") { Description = "Partitions of the topics (the mock keeps ~5 MiB, ~12k records, in each).", DefaultValueFactory = _ => 32 };
        var rate = new Option<double>("--rate") { Description = "Producer rate of the live run, records/s.", DefaultValueFactory = _ => 15_000 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("stream", "Stream trainer samples/s vs offline training (same model, batch size, run), consumer path records/s, and freshness.")
        {
            rows, config, batch, partitions, rate, threads,
        };
        command.SetAction(p => Run(p.GetValue(rows), p.GetValue(config), p.GetValue(batch), p.GetValue(partitions), p.GetValue(rate), p.GetValue(threads),
                                   p.InvocationConfiguration.Output));
        return command;
    }

    private static int Run(long rows, string? configPath, int batchSize, int partitions, double rate, int threads, TextWriter output)
    {
        var config = configPath is null ? ModelConfig.Parse(QuickstartCommand.EmbeddedConfig()) : ModelConfig.Load(configPath);
        string dir = Directory.CreateTempSubdirectory("recsys-bench-stream-").FullName;
        try
        {
            string path = Path.Combine(dir, "synthetic.tsv");
            new SyntheticCtrGenerator(new SyntheticOptions { Rows = rows, Seed = 1, Threads = threads, ComputeBestAuc = false }).GenerateFile(path);
            output.WriteLine($"model {config.Name}, {rows:N0} synthetic Criteo rows, batch {batchSize}, {threads} threads, {partitions} partitions, embedded broker");

            var offline = TrainingRun.Run(config, new TrainOptions { TrainPath = path, Format = "criteo", BatchSize = batchSize, Threads = threads });
            output.WriteLine($"offline        {offline.SamplesPerSecond,12:N0} samples/s");

            using var kafka = EmbeddedKafka.Start();
            kafka.CreateTopic("bench", partitions);
            kafka.CreateTopic("bench.dlq", 1);
            kafka.CreateTopic("live", partitions);
            kafka.CreateTopic("live.dlq", 1);
            kafka.CreateTopic("updates", partitions);
            using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
            // The mock keeps ~5 MiB per partition: pre-fill only what fits (with margin), so nothing is dropped.
            long fill = Math.Min(rows, partitions * 8_000L);
            ReplayReport produced;
            using (var reader = CtrReaders.Open(path, "criteo", new CtrReaderOptions(), null))
                produced = ReplayProducer.Run(reader, endpoint, new ReplayOptions { Topic = "bench", KeyField = "C3", MaxRecords = fill });
            // Keys spread unevenly, so a partition can still overflow: count what the broker kept.
            long available = Available(endpoint, "bench", partitions);
            output.WriteLine($"producer       {produced.RecordsPerSecond,12:N0} records/s ({produced.Acknowledged:N0} acknowledged, {available:N0} kept by the broker)");
            fill = available;

            // Alternating, to see order effects: consume only, consume + parse, consume only again.
            var consumeOnly = ConsumerPath(endpoint, "bench", partitions, fill, batchSize, parse: false);
            var consumer = ConsumerPath(endpoint, "bench", partitions, fill, batchSize, parse: true);
            var consumeOnlyAgain = ConsumerPath(endpoint, "bench", partitions, fill, batchSize, parse: false);
            var consumerAgain = ConsumerPath(endpoint, "bench", partitions, fill, batchSize, parse: true);
            output.WriteLine($"consume only   {consumeOnly,12:N0} records/s, again after the parse pass {consumeOnlyAgain:N0} (Confluent.Kafka consumer, byte[] values)");
            output.WriteLine($"consumer path  {consumer,12:N0} records/s, again {consumerAgain:N0} (consume + validate + parse into batches of {batchSize})");
            output.WriteLine($"parse only     {ParseOnly(endpoint, "bench", partitions, Math.Min(fill, 50_000), batchSize),12:N0} records/s (validate + parse of values already in memory)");

            StreamTrainerReport stream;
            string ckpt = Path.Combine(dir, "ckpt-stream");
            using (var trainer = new StreamTrainer(config, endpoint, new StreamTrainerOptions
                   {
                       Topic = "bench", GroupId = "bench", CheckpointDir = ckpt, BatchRecords = batchSize, Threads = threads,
                       CheckpointEveryBatches = 0, CheckpointIntervalMs = 0, StopAfterRecords = fill,
                   }))
                stream = trainer.Run();
            double streamRate = stream.RecordsTrained / Math.Max(stream.WallSeconds - stream.CheckpointSeconds, 1e-9);
            output.WriteLine($"stream         {streamRate,12:N0} samples/s ({streamRate / offline.SamplesPerSecond:P0} of offline; final checkpoint {stream.CheckpointSeconds:F1} s excluded)");

            // Live: the producer runs at a fixed rate while the trainer trains, checkpoints and publishes.
            long live = Math.Min(rows, (long)(rate * 20));
            var producing = Task.Run(() =>
            {
                using var reader = CtrReaders.Open(path, "criteo", new CtrReaderOptions(), null);
                return ReplayProducer.Run(reader, endpoint, new ReplayOptions
                {
                    Topic = "live", KeyField = "C3", RatePerSecond = rate, MaxRecords = live, MaxLag = 4 * batchSize, LagGroup = "live",
                });
            });
            StreamTrainerReport liveReport;
            using (var trainer = new StreamTrainer(config, endpoint, new StreamTrainerOptions
                   {
                       Topic = "live", GroupId = "live", CheckpointDir = Path.Combine(dir, "ckpt-live"), BatchRecords = batchSize, Threads = threads,
                       CheckpointEveryBatches = 20, CheckpointIntervalMs = 5_000, PublishTopic = "updates", PublishIntervalMs = 1_000, StopAfterRecords = live,
                   }))
                liveReport = trainer.Run();
            producing.GetAwaiter().GetResult();
            output.WriteLine($"live           {liveReport.SamplesPerSecond,12:N0} samples/s at --rate {rate:N0}/s; freshness p50 {liveReport.FreshnessP50Ms:F0} ms, p99 {liveReport.FreshnessP99Ms:F0} ms; "
                             + $"{liveReport.Publications} publications ({liveReport.RowsPublished:N0} rows, {liveReport.PublishSeconds:F1} s), {liveReport.Checkpoints} checkpoints ({liveReport.CheckpointSeconds:F1} s), "
                             + $"lost {liveReport.RecordsLost}");
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static long Available(KafkaEndpoint endpoint, string topic, int partitions)
    {
        using var probe = new ConsumerBuilder<Ignore, Ignore>(endpoint.ConsumerConfig("probe")).Build();
        long sum = 0;
        for (int p = 0; p < partitions; p++)
        {
            var w = probe.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(30));
            sum += w.High.Value - w.Low.Value;
        }
        return sum;
    }

    private static double ParseOnly(KafkaEndpoint endpoint, string topic, int partitions, long records, int batchSize)
    {
        var config = endpoint.ConsumerConfig($"parse-only-{Guid.NewGuid():N}");
        config.EnableAutoCommit = false;
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var values = new List<byte[]>();
        while (values.Count < records) if (consumer.Consume(1000) is { } r) values.Add(r.Message.Value);
        var builder = new CtrBatchBuilder(DatasetSchema.Criteo);
        CtrBatch? batch = null;
        var clock = Stopwatch.StartNew();
        for (int round = 0; round < 3; round++)
        {
            foreach (var v in values)
            {
                ImpressionCodec.Decode(v, 13, 26, 1 << 16, builder);
                if (builder.SampleCount == batchSize) batch = builder.Build(batch);
            }
        }
        return 3.0 * values.Count / clock.Elapsed.TotalSeconds;
    }

    // Consume every record of the topic, optionally validating and parsing it into batches of B (what the trainer does
    // before training). The clock starts at the first record, so connection set-up and the first fetch are excluded.
    private static double ConsumerPath(KafkaEndpoint endpoint, string topic, int partitions, long records, int batchSize, bool parse)
    {
        var config = endpoint.ConsumerConfig($"consumer-path-{Guid.NewGuid():N}");
        config.EnableAutoCommit = false;
        config.ConsumeResultFields = "timestamp"; // as the trainer: no per-message topic string or headers
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var builder = new CtrBatchBuilder(DatasetSchema.Criteo);
        CtrBatch? batch = null;
        long seen = 0;
        Stopwatch? clock = null;
        while (seen < records)
        {
            var r = consumer.Consume(1000);
            if (r is null) continue;
            clock ??= Stopwatch.StartNew();
            seen++;
            if (!parse) continue;
            ImpressionCodec.Decode(r.Message.Value, 13, 26, 1 << 16, builder);
            if (builder.SampleCount == batchSize) batch = builder.Build(batch);
        }
        return (seen - 1) / clock!.Elapsed.TotalSeconds;
    }
}
