using Confluent.Kafka;

namespace RecsysEmbed.Serving.Updates;

/// <summary>
/// The update topic through Confluent.Kafka. Partitions are assigned by hand (no consumer-group rebalancing: the
/// store's checkpoint, not the group, owns the offsets), each starting at the offset stored with the store's
/// checkpoint, or at the beginning when none is stored. A partition whose first record lies past the stored offset
/// has lost records (retention, or the embedded broker's 5 MiB cap): that is counted in <see cref="Gaps"/>.
/// </summary>
public sealed class KafkaUpdateSource : IUpdateSource
{
    private readonly ConsumerConfig _config;
    private readonly string _topic;
    private readonly Dictionary<int, long> _expected = new();
    private IConsumer<byte[], byte[]>? _consumer;

    public KafkaUpdateSource(ConsumerConfig config, string topic)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        _config = new ConsumerConfig(new Dictionary<string, string>(config))
        {
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            GroupId = config.GroupId ?? "recsys-embed-serving",
            // Freshness: an idle fetch returns after at most this long instead of librdkafka's 500 ms default.
            FetchWaitMaxMs = config.FetchWaitMaxMs ?? 10,
        };
        _topic = topic;
    }

    /// <summary>Records skipped over (offsets missing between the stored offset and what the broker still has).</summary>
    public long Gaps { get; private set; }

    public void Start(IReadOnlyDictionary<string, long> nextOffsets)
    {
        // The admin client gets the connection settings only (consumer keys would draw librdkafka warnings).
        string[] consumerOnly = ["group.id", "enable.auto.commit", "enable.auto.offset.store", "auto.offset.reset"];
        var adminConfig = new AdminClientConfig(_config.Where(kv => !consumerOnly.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value));
        using (var admin = new AdminClientBuilder(adminConfig).Build())
        {
            var meta = admin.GetMetadata(_topic, TimeSpan.FromSeconds(30));
            var topic = meta.Topics.SingleOrDefault(t => t.Topic == _topic);
            if (topic is null || topic.Error.IsError || topic.Partitions.Count == 0)
                throw new InvalidOperationException($"--updates-topic: topic '{_topic}' not found on {_config.BootstrapServers} ({topic?.Error.Reason ?? "no metadata"}).");
            var assignment = new List<TopicPartitionOffset>();
            foreach (var p in topic.Partitions.OrderBy(p => p.PartitionId))
            {
                string key = UpdateRecord.PartitionKeyOf(_topic, p.PartitionId);
                long next = nextOffsets.TryGetValue(key, out long o) ? o : 0;
                _expected[p.PartitionId] = next;
                assignment.Add(new TopicPartitionOffset(_topic, p.PartitionId, next > 0 ? new Offset(next) : Offset.Beginning));
            }
            _consumer = new ConsumerBuilder<byte[], byte[]>(_config).Build();
            _consumer.Assign(assignment);
        }
    }

    public bool TryNext(TimeSpan wait, out UpdateRecord record, CancellationToken cancel)
    {
        record = default;
        var consumer = _consumer ?? throw new InvalidOperationException("Start the source first.");
        ConsumeResult<byte[], byte[]>? result;
        try
        {
            result = consumer.Consume(wait);
        }
        catch (ConsumeException e) when (!e.Error.IsFatal)
        {
            return false;
        }
        cancel.ThrowIfCancellationRequested();
        if (result is null || result.IsPartitionEOF) return false;
        int partition = result.Partition.Value;
        long offset = result.Offset.Value;
        if (_expected.TryGetValue(partition, out long expected) && offset > expected) Gaps += offset - expected;
        _expected[partition] = offset + 1;
        record = new UpdateRecord(result.Topic, partition, offset, result.Message.Key ?? [], result.Message.Value ?? []);
        return true;
    }

    public void Dispose()
    {
        _consumer?.Close();
        _consumer?.Dispose();
    }
}
