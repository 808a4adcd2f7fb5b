using System.Buffers.Binary;
using System.Diagnostics;
using Confluent.Kafka;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Streaming.Records;

namespace RecsysEmbed.Streaming.Producing;

/// <summary>Settings of one replay. Immutable; units in the names.</summary>
public sealed record ReplayOptions
{
    public required string Topic { get; init; }

    /// <summary>Records per second; 0: as fast as the broker takes them.</summary>
    public double RatePerSecond { get; init; }

    /// <summary>Sparse feature whose (first) id keys the message, so one user's events stay in one partition in
    /// order. Null: the schema's first sparse feature.</summary>
    public string? KeyField { get; init; }

    /// <summary>Bound on records produced but not yet committed by <see cref="LagGroup"/>, per partition (retention is
    /// per partition, and keys need not spread evenly); null: unbounded.</summary>
    public long? MaxLag { get; init; }

    /// <summary>Consumer group whose committed offsets measure the lag.</summary>
    public string? LagGroup { get; init; }

    /// <summary>Stop after this many records; null: the whole file.</summary>
    public long? MaxRecords { get; init; }

    /// <summary>Record id of the first record; ids count up from it.</summary>
    public long FirstRecordId { get; init; }

    public void Validate()
    {
        if (RatePerSecond < 0 || !double.IsFinite(RatePerSecond)) throw new ArgumentOutOfRangeException(nameof(RatePerSecond), RatePerSecond, "--rate must be >= 0 records/s.");
        if (MaxLag is < 1) throw new ArgumentOutOfRangeException(nameof(MaxLag), MaxLag, "--max-lag must be >= 1 record.");
        if (MaxLag is not null && LagGroup is null) throw new ArgumentException("--max-lag needs --lag-group (the trainer's consumer group, whose commits measure the lag).");
        if (MaxRecords is < 0) throw new ArgumentOutOfRangeException(nameof(MaxRecords), MaxRecords, "--max-records must be >= 0.");
    }
}

/// <summary>Counts of a replay: sent, acknowledged by the broker (acks=all), failed.</summary>
public sealed record ReplayReport(long Sent, long Acknowledged, long Failed, double Seconds, long LagWaits, string? FirstError)
{
    public double RecordsPerSecond => Acknowledged / Math.Max(Seconds, 1e-9);
}

/// <summary>
/// Replays a dataset into a topic, one record per message in <see cref="ImpressionCodec"/>'s format, through an
/// idempotent producer with acks=all (no duplicates, no reordering within a partition on retries). Keyed by one
/// sparse feature's id so that one user's events stay in order. With <see cref="ReplayOptions.MaxLag"/> it waits
/// while the trainer's group is too far behind: the embedded broker keeps only ~5 MiB per partition, and a
/// producer that runs further ahead makes the broker drop records the trainer has not read.
/// </summary>
public static class ReplayProducer
{
    public static ReplayReport Run(ICtrReader reader, KafkaEndpoint endpoint, ReplayOptions options, Action<ReplayReport>? progress = null, CancellationToken cancel = default)
    {
        options.Validate();
        var schema = reader.Schema;
        int keyFeature = options.KeyField is null ? (schema.SparseCount > 0 ? 0 : -1) : schema.SparseFeatures.ToList().IndexOf(options.KeyField);
        if (options.KeyField is not null && keyFeature < 0)
            throw new ArgumentException($"--key-field: '{options.KeyField}' is not a sparse feature of {reader.SourceName} ({string.Join(", ", schema.SparseFeatures)}).");

        var config = endpoint.ProducerConfig();
        config.EnableIdempotence = true;
        config.Acks = Acks.All;
        config.LingerMs ??= 5;
        config.MessageTimeoutMs ??= 0; // keep retrying through an outage: acknowledged or reported, never dropped
        long acked = 0, failed = 0;
        string? firstError = null;
        var ends = new Dictionary<int, long>();    // per partition: our highest acknowledged offset + 1
        var starts = new Dictionary<int, long>();  // per partition: our first acknowledged offset
        var gate = new object();
        using var producer = new ProducerBuilder<byte[]?, byte[]>(config).Build();
        Action<DeliveryReport<byte[]?, byte[]>> onDelivery = r =>
        {
            lock (gate)
            {
                if (r.Error.IsError) { failed++; firstError ??= r.Error.Reason; return; }
                acked++;
                int p = r.Partition.Value;
                ends[p] = Math.Max(ends.GetValueOrDefault(p), r.Offset.Value + 1);
                if (!starts.TryGetValue(p, out long s) || r.Offset.Value < s) starts[p] = r.Offset.Value;
            }
        };
        using var lagProbe = options.LagGroup is null ? null : new ConsumerBuilder<Ignore, Ignore>(endpoint.ConsumerConfig(options.LagGroup)).Build();

        long sent = 0;
        long InFlight() { lock (gate) return sent - acked - failed; }
        var clock = Stopwatch.StartNew();
        var builder = reader.CreateBuilder();
        CtrBatch? batch = null;
        long lagWaits = 0, nextId = options.FirstRecordId, lastProgress = 0;
        var buffer = new byte[1 << 16];
        while (!cancel.IsCancellationRequested && (options.MaxRecords is not { } max || sent < max)
               && reader.TryReadBatch(builder, 4096, out batch, batch))
        {
            for (int i = 0; i < batch.BatchSize && !cancel.IsCancellationRequested && (options.MaxRecords is not { } m || sent < m); i++)
            {
                int length = ImpressionCodec.EncodedLength(batch, i);
                if (length > buffer.Length) buffer = new byte[length];
                ImpressionCodec.Encode(batch, i, nextId++, buffer);
                var message = new Message<byte[]?, byte[]> { Key = KeyOf(batch, i, keyFeature), Value = buffer.AsSpan(0, length).ToArray() };
                Produce(producer, options.Topic, message, onDelivery);
                sent++;
                if (options.RatePerSecond > 0)
                {
                    double due = sent / options.RatePerSecond;
                    while (clock.Elapsed.TotalSeconds < due && !cancel.IsCancellationRequested) producer.Poll(TimeSpan.FromMilliseconds(Math.Clamp((due - clock.Elapsed.TotalSeconds) * 1000, 0, 20)));
                }
                if (options.MaxLag is { } maxLag && sent % 256 == 0)
                {
                    // Records still in flight (not acknowledged, partition unknown to us yet) count against every partition.
                    while (!cancel.IsCancellationRequested && Lag(lagProbe!, options.Topic, ends, starts, gate) + InFlight() > maxLag)
                    {
                        lagWaits++;
                        producer.Poll(TimeSpan.FromMilliseconds(20)); // deliveries advance `ends` meanwhile
                    }
                }
                if (progress is not null && sent - lastProgress >= 50_000)
                {
                    lastProgress = sent;
                    lock (gate) progress(new ReplayReport(sent, acked, failed, clock.Elapsed.TotalSeconds, lagWaits, firstError));
                }
            }
        }
        while (producer.Flush(TimeSpan.FromSeconds(1)) > 0 && !cancel.IsCancellationRequested) { }
        lock (gate) return new ReplayReport(sent, acked, failed, clock.Elapsed.TotalSeconds, lagWaits, firstError);
    }

    private static void Produce(IProducer<byte[]?, byte[]> producer, string topic, Message<byte[]?, byte[]> message, Action<DeliveryReport<byte[]?, byte[]>> onDelivery)
    {
        while (true)
        {
            try
            {
                producer.Produce(topic, message, onDelivery);
                return;
            }
            catch (ProduceException<byte[]?, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                producer.Poll(TimeSpan.FromMilliseconds(20));
            }
        }
    }

    private static byte[]? KeyOf(CtrBatch batch, int sample, int feature)
    {
        if (feature < 0) return null;
        var offsets = batch.Sparse.Offsets;
        int at = offsets[feature * batch.BatchSize + sample];
        if (offsets[feature * batch.BatchSize + sample + 1] == at) return null;
        var key = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(key, batch.Sparse.Values[at]);
        return key;
    }

    // The largest number of records this producer wrote to one partition that the group has not committed yet.
    private static long Lag(IConsumer<Ignore, Ignore> probe, string topic, Dictionary<int, long> ends, Dictionary<int, long> starts, object gate)
    {
        List<TopicPartition> partitions;
        lock (gate) partitions = ends.Keys.Select(p => new TopicPartition(topic, p)).ToList();
        if (partitions.Count == 0) return 0;
        List<TopicPartitionOffset> committed;
        try
        {
            committed = probe.Committed(partitions, TimeSpan.FromSeconds(10));
        }
        catch (KafkaException)
        {
            return long.MaxValue; // cannot tell (broker away): wait
        }
        long lag = 0;
        lock (gate)
        {
            foreach (var c in committed)
            {
                int p = c.Partition.Value;
                long done = c.Offset.Value >= 0 ? c.Offset.Value : starts[p];
                lag = Math.Max(lag, ends[p] - done);
            }
        }
        return lag;
    }
}
