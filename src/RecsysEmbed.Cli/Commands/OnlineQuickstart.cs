using System.Text.Json;
using Confluent.Kafka;
using RecsysEmbed.Client;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Synthetic;
using RecsysEmbed.Serving.Loadgen;
using RecsysEmbed.Serving.Service;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Streaming.Producing;
using RecsysEmbed.Streaming.Training;
using RecsysEmbed.Training;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// The quickstart, online: an embedded broker, the replay producer and the stream trainer in one process.
/// <code>
///   synthetic log ─► replay producer ─► impressions (8 partitions) ─► stream trainer ─► embedding-updates
///        (+ a few malformed records)        (lag bounded by the       (checkpoints, dead letters,
///                                            trainer's commits)         progressive metrics)
/// </code>
/// It ends with the online (progressive) metrics, the held-out AUC next to the best achievable, the freshness of
/// the published rows, and the records produced, trained, dead-lettered and lost. Then the lookup service starts on
/// loopback from the last checkpoint, follows the update topic, takes a short gRPC load test and a freshness probe
/// (an update published to the topic, timed until a lookup returns it).
/// </summary>
internal static class OnlineQuickstart
{
    public const string Topic = "impressions";
    public const string UpdateTopic = "embedding-updates";
    private const int Partitions = 8;
    private const string Group = "quickstart-trainer";
    // Messages are keyed by one feature's id so that a key's events stay in order; C3 (10M values) stands in for a
    // user id here. A low-cardinality key (C1's few hot values) would pile most records onto one partition.
    private const string KeyField = "C3";

    public sealed record Result(StreamTrainerReport Online, ReplayReport Produced, long MalformedSent, TrainingRun.EvalResult HeldOut, double BestAuc,
                                long EmbeddingWeightBytes, long FullTableWeightBytes, double CompressionRatio, double WallSeconds, ServingResult? Serving = null);

    /// <summary>The lookup service's part: updates it applied, the load test and the freshness probe.</summary>
    public sealed record ServingResult(string GrpcAddress, long UpdatesApplied, LoadReport Load, FreshnessReport Freshness);

    public static Result Run(ModelConfig config, string trainPath, string evalPath, double bestAuc, string work, int threads, int malformed, TextWriter stderr,
                             string? configPath = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic(Topic, Partitions);
        kafka.CreateTopic(Topic + ".dlq", 1);
        kafka.CreateTopic(UpdateTopic, Partitions);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        stderr.WriteLine($"embedded Kafka at {kafka.BootstrapServers}: topics {Topic} ({Partitions} partitions), {Topic}.dlq, {UpdateTopic}");

        long rows = LineFiles.CountLines(trainPath);
        int batch = config.Training.BatchSize;
        // The broker keeps ~5 MiB per partition (~12k records of ~400 B): the producer waits while the trainer's
        // committed offsets trail by more than this, which covers a checkpoint interval plus partial batches.
        // Per partition: a checkpoint interval's share plus a partial batch, well under the ~12k records it keeps.
        int checkpointEvery = 10;
        long maxLag = (long)checkpointEvery * batch / Partitions + 2 * batch;
        var producing = Task.Run(() =>
        {
            using var reader = CtrReaders.Open(trainPath, "criteo", new CtrReaderOptions(), null);
            var report = ReplayProducer.Run(reader, endpoint, new ReplayOptions { Topic = Topic, MaxLag = maxLag, LagGroup = Group, KeyField = KeyField });
            using var raw = new ProducerBuilder<byte[]?, byte[]?>(endpoint.ProducerConfig()).Build();
            for (int i = 0; i < malformed; i++)
                raw.Produce(Topic, new Message<byte[]?, byte[]?> { Value = System.Text.Encoding.UTF8.GetBytes($"malformed record {i}: not an impression") });
            raw.Flush(TimeSpan.FromMinutes(5));
            return report;
        });

        var options = new StreamTrainerOptions
        {
            Topic = Topic, GroupId = Group, CheckpointDir = Path.Combine(work, "checkpoints"), PublishTopic = UpdateTopic,
            CheckpointEveryBatches = checkpointEvery, CheckpointIntervalMs = 5_000, PublishIntervalMs = 1_000,
            StopAfterRecords = rows + malformed, Threads = threads,
        };
        var last = DateTime.UtcNow;
        StreamTrainer? trainerRef = null;
        using var trainer = new StreamTrainer(config, endpoint, options, e =>
        {
            if (e.Kind is StreamEventKind.DataLoss or StreamEventKind.Outage or StreamEventKind.OutageOver) stderr.WriteLine(e.Message);
            if (e.Kind != StreamEventKind.Batch || trainerRef is null || (DateTime.UtcNow - last).TotalSeconds < 5) return;
            last = DateTime.UtcNow;
            var r = trainerRef.Report();
            stderr.WriteLine($"  {r.RecordsTrained:N0} trained, {r.RecordsDeadLettered:N0} dead-lettered; {r.SamplesPerSecond:N0} samples/s; AUC(window) {r.WindowAuc:F4}; freshness p50 {r.FreshnessP50Ms:F0} ms");
        });
        trainerRef = trainer;
        var online = trainer.Run();
        var produced = producing.GetAwaiter().GetResult();

        var heldOut = TrainingRun.Evaluate(config, trainer.Trainer, trainer.Vocabularies, evalPath, "criteo", new CtrReaderOptions(), batch);
        var plan = RecsysEmbed.Core.Config.Planning.EmbeddingPlan.Create(config);
        double trainingWall = clock.Elapsed.TotalSeconds;
        var serving = configPath is null ? null : Serve(configPath, options.CheckpointDir, work, endpoint, config.SparseFeatures.Count, stderr);
        return new Result(online, produced, malformed, heldOut, bestAuc, plan.Total.WeightBytes, plan.Baseline.Memory.WeightBytes, plan.CompressionRatio,
                          trainingWall, serving);
    }

    // The lookup service on 127.0.0.1 (free ports) from the trainer's last checkpoint, following its update topic.
    private static ServingResult Serve(string configPath, string checkpointDir, string work, KafkaEndpoint endpoint, int features, TextWriter stderr) =>
        Task.Run(async () =>
        {
            await using var host = await LookupServiceHost.StartAsync(new ServeOptions
            {
                ConfigPath = configPath, ModelDirectory = checkpointDir, StoreDirectory = Path.Combine(work, "store"),
                MemoryBudgetBytes = 256L << 20, UpdatesTopic = UpdateTopic, Kafka = endpoint,
                Service = new LookupServiceOptions { Port = 0 },
            }, TextWriter.Null);
            stderr.WriteLine($"lookup service at {host.Server.GrpcAddress} (gRPC), following {UpdateTopic}; load test: 4 callers, 5 s ...");
            var shape = new LoadShape(features, 100_000) { Zipf = true };
            // Deadline 30 s: on 2 cores the host may still be applying the trainer's update backlog; a slow call is measured, not an error.
            var load = await LoadGenerator.RunAsync(new GrpcLoadTarget(host.Server.GrpcAddress, shape, null, TimeSpan.FromSeconds(30)), shape,
                new LoadOptions { Concurrency = 4, Duration = TimeSpan.FromSeconds(5), Warmup = TimeSpan.FromSeconds(1) });
            using var client = new RecsysEmbedClient(host.Server.GrpcAddress);
            var freshness = await FreshnessProbe.MeasureAsync(client, host.Model, endpoint.ProducerConfig(), UpdateTopic, 50, "C1");
            return new ServingResult(host.Server.GrpcAddress, host.Applier.Applied, load, freshness);
        }).GetAwaiter().GetResult();

    public static void Write(Result r, TextWriter output)
    {
        var o = r.Online;
        output.WriteLine($"online quickstart: {r.Produced.Acknowledged:N0} records produced (+{r.MalformedSent} malformed), {o.RecordsTrained:N0} trained, {o.RecordsDeadLettered:N0} dead-lettered, {o.RecordsLost:N0} lost; {r.WallSeconds:F1} s");
        output.WriteLine($"  online metrics (progressive validation): AUC {o.ProgressiveAuc:F5}, log loss {o.ProgressiveLogLoss:F5}; stream training {o.SamplesPerSecond:N0} samples/s");
        output.WriteLine($"  held-out ({r.HeldOut.Count:N0})  AUC {r.HeldOut.Auc:F5}  log loss {r.HeldOut.Summary.LogLoss:F5}  NE {r.HeldOut.Summary.NormalizedEntropy:F5}  calibration {r.HeldOut.Summary.Calibration:F4}");
        output.WriteLine($"  best achievable AUC on this synthetic log: {r.BestAuc:F5} (gap {r.BestAuc - r.HeldOut.Auc:F5})");
        output.WriteLine($"  freshness (record produced -> its rows published): p50 {o.FreshnessP50Ms:F0} ms, p99 {o.FreshnessP99Ms:F0} ms; {o.Publications} publications, {o.RowsPublished:N0} rows");
        output.WriteLine($"  embeddings {r.EmbeddingWeightBytes / 1048576.0:N1} MiB; full tables would be {r.FullTableWeightBytes / 1048576.0:N1} MiB: {r.CompressionRatio:F1}x smaller");
        output.WriteLine($"  checkpoints {o.Checkpoints}; time in training steps {o.TrainSeconds:F1} s, checkpoints {o.CheckpointSeconds:F1} s, publication {o.PublishSeconds:F1} s");
        if (r.Serving is { } s)
        {
            output.WriteLine($"lookup service ({s.GrpcAddress}, rows from the last checkpoint, {s.UpdatesApplied:N0} row updates applied from {UpdateTopic}):");
            output.WriteLine($"  load test (gRPC, 4 callers, 5 s, 26-feature Zipf requests): {s.Load.CallsPerSecond:N0} calls/s, {s.Load.RowsPerSecond:N0} rows/s; " +
                             $"latency p50 {s.Load.P50Us:N0} us, p99 {s.Load.P99Us:N0} us, p99.9 {s.Load.P999Us:N0} us; errors {(s.Load.Errors.Count == 0 ? "none" : string.Join(", ", s.Load.Errors.Select(e => $"{e.Key} {e.Value}")))}");
            output.WriteLine($"  freshness (update published -> visible in a lookup, {s.Freshness.Probes} probes): p50 {s.Freshness.P50Us / 1000:F1} ms, p99 {s.Freshness.P99Us / 1000:F1} ms");
        }
    }

    public static string Json(Result r) => JsonSerializer.Serialize(new
    {
        online = r.Online,
        produced = r.Produced.Acknowledged,
        malformed_sent = r.MalformedSent,
        held_out = new { samples = r.HeldOut.Count, auc = r.HeldOut.Auc, log_loss = r.HeldOut.Summary.LogLoss, ne = r.HeldOut.Summary.NormalizedEntropy, calibration = r.HeldOut.Summary.Calibration },
        best_auc = r.BestAuc,
        embedding_weight_bytes = r.EmbeddingWeightBytes,
        full_table_weight_bytes = r.FullTableWeightBytes,
        wall_seconds = r.WallSeconds,
        serving = r.Serving is { } s ? new { grpc = s.GrpcAddress, updates_applied = s.UpdatesApplied, calls_per_second = s.Load.CallsPerSecond, p50_us = s.Load.P50Us, p99_us = s.Load.P99Us, p999_us = s.Load.P999Us, errors = s.Load.Errors.Values.Sum(), freshness_p50_ms = s.Freshness.P50Us / 1000, freshness_p99_ms = s.Freshness.P99Us / 1000 } : null,
    }, SummaryJson.Compact);
}
