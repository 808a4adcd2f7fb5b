using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;

namespace RecsysEmbed.Streaming.Broker;

/// <summary>
/// A Kafka-protocol broker cluster running in this process: librdkafka's mock cluster, listening on 127.0.0.1
/// (ephemeral ports), reached by any Kafka client through <see cref="BootstrapServers"/>. Topics are created and
/// faults injected through the <c>rd_kafka_mock_*</c> C API (the mock cluster has no admin CreateTopics).
/// <code>
///   using var kafka = EmbeddedKafka.Start(brokers: 1);
///   kafka.CreateTopic("impressions", partitions: 4);
///   var producer = new ProducerBuilder&lt;byte[], byte[]&gt;(new ProducerConfig { BootstrapServers = kafka.BootstrapServers }).Build();
///   kafka.SetBrokerDown(1); ... kafka.SetBrokerUp(1);          // outage
///   kafka.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.NotLeaderForPartition);   // next Produce fails once
/// </code>
/// Limits of the mock: about 5 MiB kept per partition (older records are dropped: consumers must detect gaps),
/// brokers are numbered 1..N, replication is simulated. Thread-safe for the calls below (librdkafka serialises them
/// onto the cluster's thread).
/// </summary>
public sealed class EmbeddedKafka : IDisposable
{
    private readonly object _gate = new();
    private nint _handle;   // rd_kafka_t that owns the cluster
    private nint _cluster;  // rd_kafka_mock_cluster_t

    private EmbeddedKafka(nint handle, nint cluster, int brokers, string bootstrap)
    {
        _handle = handle;
        _cluster = cluster;
        BrokerCount = brokers;
        BootstrapServers = bootstrap;
    }

    /// <summary>Comma-separated host:port list of the brokers, all on 127.0.0.1.</summary>
    public string BootstrapServers { get; }

    /// <summary>Brokers in the cluster; their ids are 1..<see cref="BrokerCount"/>.</summary>
    public int BrokerCount { get; }

    /// <summary>Starts a cluster of <paramref name="brokers"/> brokers on 127.0.0.1.</summary>
    /// <param name="groupRebalanceDelay">Delay before a new group's first rebalance (Kafka's
    /// group.initial.rebalance.delay.ms; the mock's default is 3 s). Null: zero, so consumers start at once.</param>
    public static EmbeddedKafka Start(int brokers = 1, TimeSpan? groupRebalanceDelay = null)
    {
        if (brokers is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(brokers), brokers, "--brokers: must be 1..64.");
        LibRdKafkaMock.EnsureLoaded();
        var errstr = new byte[512];
        nint conf = LibRdKafkaMock.rd_kafka_conf_new();
        // The handle only hosts the cluster; keep its own logging to errors.
        Set(conf, "log_level", "3", errstr);
        Set(conf, "client.id", "recsys-embedded-kafka", errstr);
        nint rk = LibRdKafkaMock.rd_kafka_new(LibRdKafkaMock.ProducerType, conf, errstr, (nuint)errstr.Length);
        if (rk == 0)
        {
            LibRdKafkaMock.rd_kafka_conf_destroy(conf);
            throw new KafkaException(new Error(ErrorCode.Local_Fail, $"embedded Kafka: rd_kafka_new failed: {Text(errstr)}"));
        }
        nint cluster = LibRdKafkaMock.rd_kafka_mock_cluster_new(rk, brokers);
        if (cluster == 0)
        {
            LibRdKafkaMock.rd_kafka_destroy(rk);
            throw new KafkaException(new Error(ErrorCode.Local_Fail, "embedded Kafka: rd_kafka_mock_cluster_new failed (could not bind 127.0.0.1?)."));
        }
        string bootstrap = Marshal.PtrToStringUTF8(LibRdKafkaMock.rd_kafka_mock_cluster_bootstraps(cluster)) ?? "";
        LibRdKafkaMock.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, (int)(groupRebalanceDelay ?? TimeSpan.Zero).TotalMilliseconds);
        return new EmbeddedKafka(rk, cluster, brokers, bootstrap);
    }

    /// <summary>Creates a topic; creating one that exists is an error.</summary>
    public void CreateTopic(string name, int partitions, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (partitions < 1) throw new ArgumentOutOfRangeException(nameof(partitions), partitions, $"topic {name}: partitions must be >= 1.");
        if (replicationFactor < 1 || replicationFactor > BrokerCount)
            throw new ArgumentOutOfRangeException(nameof(replicationFactor), replicationFactor, $"topic {name}: replication factor must be 1..{BrokerCount} (the broker count).");
        Check(LibRdKafkaMock.rd_kafka_mock_topic_create(Cluster, name, partitions, replicationFactor), $"create topic {name} ({partitions} partitions)");
    }

    /// <summary>Takes a broker down: its connections are closed and new ones refused until <see cref="SetBrokerUp"/>.</summary>
    public void SetBrokerDown(int brokerId) => Check(LibRdKafkaMock.rd_kafka_mock_broker_set_down(Cluster, CheckBroker(brokerId)), $"broker {brokerId} down");

    public void SetBrokerUp(int brokerId) => Check(LibRdKafkaMock.rd_kafka_mock_broker_set_up(Cluster, CheckBroker(brokerId)), $"broker {brokerId} up");

    /// <summary>Takes every broker down (a whole-cluster outage).</summary>
    public void SetAllBrokersDown()
    {
        for (int id = 1; id <= BrokerCount; id++) SetBrokerDown(id);
    }

    public void SetAllBrokersUp()
    {
        for (int id = 1; id <= BrokerCount; id++) SetBrokerUp(id);
    }

    /// <summary>Adds <paramref name="roundTrip"/> to every response of a broker (zero removes it).</summary>
    public void SetBrokerRoundTripTime(int brokerId, TimeSpan roundTrip)
    {
        if (roundTrip < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(roundTrip), roundTrip, "round-trip time must be >= 0.");
        Check(LibRdKafkaMock.rd_kafka_mock_broker_set_rtt(Cluster, CheckBroker(brokerId), (int)roundTrip.TotalMilliseconds), $"broker {brokerId} rtt");
    }

    /// <summary>
    /// The next requests of type <paramref name="api"/> (any broker) fail with these errors, one error per request,
    /// in order; later requests succeed again.
    /// </summary>
    public void PushRequestErrors(KafkaApiKey api, params ErrorCode[] errors)
    {
        if (errors.Length == 0) return;
        var codes = Array.ConvertAll(errors, e => (int)e);
        LibRdKafkaMock.rd_kafka_mock_push_request_errors_array(Cluster, (short)api, (nuint)codes.Length, codes);
    }

    /// <summary>Drops errors pushed for <paramref name="api"/> that were not consumed yet.</summary>
    public void ClearRequestErrors(KafkaApiKey api) => LibRdKafkaMock.rd_kafka_mock_clear_request_errors(Cluster, (short)api);

    private nint Cluster
    {
        get
        {
            nint c = _cluster;
            ObjectDisposedException.ThrowIf(c == 0, this);
            return c;
        }
    }

    private int CheckBroker(int brokerId)
    {
        if (brokerId < 1 || brokerId > BrokerCount)
            throw new ArgumentOutOfRangeException(nameof(brokerId), brokerId, $"broker id must be 1..{BrokerCount}.");
        return brokerId;
    }

    private static void Check(int err, string what)
    {
        if (err != 0) throw new KafkaException(new Error((ErrorCode)err, $"embedded Kafka: {what}: {LibRdKafkaMock.ErrorText(err)}"));
    }

    private static void Set(nint conf, string name, string value, byte[] errstr)
    {
        if (LibRdKafkaMock.rd_kafka_conf_set(conf, name, value, errstr, (nuint)errstr.Length) != 0)
        {
            LibRdKafkaMock.rd_kafka_conf_destroy(conf);
            throw new KafkaException(new Error(ErrorCode.Local_Fail, $"embedded Kafka: {name} = {value}: {Text(errstr)}"));
        }
    }

    private static string Text(byte[] errstr)
    {
        int end = Array.IndexOf(errstr, (byte)0);
        return Encoding.UTF8.GetString(errstr, 0, end < 0 ? errstr.Length : end);
    }

    /// <summary>Stops the brokers; clients still connected see their connections close.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_cluster != 0) LibRdKafkaMock.rd_kafka_mock_cluster_destroy(_cluster);
            if (_handle != 0) LibRdKafkaMock.rd_kafka_destroy(_handle);
            _cluster = 0;
            _handle = 0;
        }
    }
}
