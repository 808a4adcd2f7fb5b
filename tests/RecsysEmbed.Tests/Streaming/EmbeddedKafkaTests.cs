using System.Text;
using Confluent.Kafka;
using RecsysEmbed.Streaming.Broker;

namespace RecsysEmbed.Tests.Streaming;

public class EmbeddedKafkaTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    [Fact]
    public void Start_BindsLoopbackOnly_OneAddressPerBroker()
    {
        using var kafka = EmbeddedKafka.Start(brokers: 3);
        var servers = kafka.BootstrapServers.Split(',');
        Assert.Equal(3, servers.Length);
        Assert.All(servers, s => Assert.StartsWith("127.0.0.1:", s));
    }

    [Fact]
    public void CreatedTopic_HasItsPartitions_InMetadata()
    {
        using var kafka = EmbeddedKafka.Start(brokers: 2);
        kafka.CreateTopic("t-meta", partitions: 5, replicationFactor: 2);
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = kafka.BootstrapServers }).Build();
        var meta = admin.GetMetadata("t-meta", HangGuard);
        var topic = Assert.Single(meta.Topics);
        Assert.Equal(ErrorCode.NoError, topic.Error.Code);
        Assert.Equal(5, topic.Partitions.Count);
        Assert.Equal(2, meta.Brokers.Count);
    }

    [Fact]
    public void ProduceThenConsume_RoundTripsKeysValuesAndOffsets()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("t-rt", partitions: 1);
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, EnableIdempotence = true, Acks = Acks.All }).Build())
        {
            for (int i = 0; i < 100; i++) producer.Produce("t-rt", new Message<string, string> { Key = $"k{i % 7}", Value = $"v{i}" });
            Assert.Equal(0, producer.Flush(HangGuard));
        }
        var got = ConsumeAll(kafka.BootstrapServers, "t-rt", 100);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"v{i}"), got.Select(m => m.Message.Value));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), got.Select(m => m.Offset.Value));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"k{i % 7}"), got.Select(m => m.Message.Key));
    }

    [Fact]
    public void CreateTopic_Twice_IsRefusedWithTheTopicName()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("t-dup", 1);
        var e = Assert.Throws<KafkaException>(() => kafka.CreateTopic("t-dup", 1));
        Assert.Contains("t-dup", e.Message);
    }

    [Fact]
    public void CreateTopic_BadArguments_NameTheValue()
    {
        using var kafka = EmbeddedKafka.Start();
        Assert.Contains("partitions", Assert.Throws<ArgumentOutOfRangeException>(() => kafka.CreateTopic("x", 0)).Message);
        Assert.Contains("replication", Assert.Throws<ArgumentOutOfRangeException>(() => kafka.CreateTopic("x", 1, replicationFactor: 2)).Message);
        Assert.Contains("broker id", Assert.Throws<ArgumentOutOfRangeException>(() => kafka.SetBrokerDown(2)).Message);
    }

    [Fact]
    public async Task InjectedProduceErrors_AreRetried_ByTheIdempotentProducer_WithoutDuplicates()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("t-err", 1);
        kafka.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.NotLeaderForPartition, ErrorCode.RequestTimedOut, ErrorCode.NotEnoughReplicas);
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, EnableIdempotence = true, Acks = Acks.All, LingerMs = 0 }).Build())
        {
            for (int i = 0; i < 20; i++)
            {
                var r = await producer.ProduceAsync("t-err", new Message<Null, string> { Value = $"v{i}" });
                Assert.Equal(PersistenceStatus.Persisted, r.Status);
            }
        }
        var got = ConsumeAll(kafka.BootstrapServers, "t-err", 20);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"v{i}"), got.Select(m => m.Message.Value));
    }

    [Fact]
    public async Task InjectedProduceError_WithoutRetries_ReachesTheClient()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("t-fatal", 1);
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, MessageSendMaxRetries = 0 }).Build();
        await producer.ProduceAsync("t-fatal", new Message<Null, string> { Value = "warm-up" });
        kafka.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.InvalidRecord);
        var e = await Assert.ThrowsAnyAsync<ProduceException<Null, string>>(() => producer.ProduceAsync("t-fatal", new Message<Null, string> { Value = "x" }));
        Assert.Equal(ErrorCode.InvalidRecord, e.Error.Code);
    }

    [Fact]
    public async Task BrokerDown_IsReportedToClients_AndDeliveryResumesWhenItIsBackUp()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("t-down", 1);
        using var brokersDown = new ManualResetEventSlim();
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig
            {
                BootstrapServers = kafka.BootstrapServers, EnableIdempotence = true, Acks = Acks.All, MessageTimeoutMs = 120_000,
                ReconnectBackoffMs = 10, ReconnectBackoffMaxMs = 100,
            })
            .SetErrorHandler((_, e) => { if (e.Code is ErrorCode.Local_AllBrokersDown or ErrorCode.Local_Transport) brokersDown.Set(); })
            .Build();
        await producer.ProduceAsync("t-down", new Message<Null, string> { Value = "before" });

        kafka.SetBrokerDown(1);
        var pending = producer.ProduceAsync("t-down", new Message<Null, string> { Value = "during" });
        Assert.True(brokersDown.Wait(HangGuard), "the client never reported the broker outage");
        kafka.SetBrokerUp(1);
        var delivered = await pending.WaitAsync(HangGuard);
        Assert.Equal(PersistenceStatus.Persisted, delivered.Status);

        var got = ConsumeAll(kafka.BootstrapServers, "t-down", 2);
        Assert.Equal(["before", "during"], got.Select(m => m.Message.Value));
    }

    [Fact]
    public async Task AddedRoundTripTime_StillDelivers()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("t-rtt", 1);
        kafka.SetBrokerRoundTripTime(1, TimeSpan.FromMilliseconds(50));
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers }).Build();
        var r = await producer.ProduceAsync("t-rtt", new Message<Null, string> { Value = "slow" });
        Assert.Equal(0, r.Offset.Value);
        kafka.SetBrokerRoundTripTime(1, TimeSpan.Zero);
        Assert.Throws<ArgumentOutOfRangeException>(() => kafka.SetBrokerRoundTripTime(1, TimeSpan.FromMilliseconds(-1)));
    }

    [Fact]
    public void Dispose_IsIdempotent_AndLaterCallsThrow()
    {
        var kafka = EmbeddedKafka.Start();
        kafka.Dispose();
        kafka.Dispose();
        Assert.Throws<ObjectDisposedException>(() => kafka.CreateTopic("late", 1));
    }

    internal static List<ConsumeResult<byte[]?, byte[]?>> ConsumeAllBytes(string bootstrap, string topic, int count)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = $"g-{Guid.NewGuid():N}", AutoOffsetReset = AutoOffsetReset.Earliest, EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(topic);
        var result = new List<ConsumeResult<byte[]?, byte[]?>>();
        var deadline = DateTime.UtcNow + HangGuard;
        while (result.Count < count && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is { IsPartitionEOF: false }) result.Add(r);
        }
        consumer.Close();
        return result;
    }

    internal static List<ConsumeResult<string, string>> ConsumeAll(string bootstrap, string topic, int count)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = $"g-{Guid.NewGuid():N}", AutoOffsetReset = AutoOffsetReset.Earliest, EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(topic);
        var result = new List<ConsumeResult<string, string>>();
        var deadline = DateTime.UtcNow + HangGuard;
        while (result.Count < count && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is { IsPartitionEOF: false }) result.Add(r);
        }
        consumer.Close();
        return result;
    }
}

public class KafkaEndpointTests
{
    [Fact]
    public void Embedded_StartsABroker_CreatesTopics_AndOwnsIt()
    {
        using var endpoint = KafkaEndpoint.Resolve("embedded", topics: [TopicSpec.Parse("a:3")]);
        Assert.True(endpoint.IsEmbedded);
        Assert.StartsWith("127.0.0.1:", endpoint.BootstrapServers);
        using var admin = new AdminClientBuilder(endpoint.AdminConfig()).Build();
        Assert.Equal(3, admin.GetMetadata("a", TimeSpan.FromSeconds(60)).Topics[0].Partitions.Count);
    }

    [Fact]
    public void RealCluster_PassesSecuritySettingsThrough()
    {
        using var endpoint = KafkaEndpoint.Resolve("kafka-1:9093,kafka-2:9093",
            ["security.protocol=SASL_SSL", "sasl.mechanism=PLAIN", "sasl.username=u", "sasl.password=p=w", "ssl.ca.location=/etc/ca.pem"]);
        Assert.False(endpoint.IsEmbedded);
        var config = endpoint.ConsumerConfig("g");
        Assert.Equal("kafka-1:9093,kafka-2:9093", config.BootstrapServers);
        Assert.Equal("SASL_SSL", config.Get("security.protocol"));
        Assert.Equal("PLAIN", config.Get("sasl.mechanism"));
        Assert.Equal("p=w", config.SaslPassword);
        Assert.Equal("/etc/ca.pem", endpoint.ProducerConfig().SslCaLocation);
    }

    [Theory]
    [InlineData("localhost", "localhost")]
    [InlineData("host:0", "host:0")]
    [InlineData("host:9092,:9092", ":9092")]
    public void BadBootstrap_NamesTheServer(string bootstrap, string named)
    {
        var e = Assert.Throws<FormatException>(() => KafkaEndpoint.Resolve(bootstrap));
        Assert.Contains("--bootstrap", e.Message);
        Assert.Contains($"'{named}'", e.Message);
    }

    [Fact]
    public void BadProperty_NamesIt()
    {
        Assert.Contains("'novalue'", Assert.Throws<FormatException>(() => KafkaEndpoint.Resolve("h:1", ["novalue"])).Message);
        Assert.Contains("bootstrap.servers", Assert.Throws<FormatException>(() => KafkaEndpoint.Resolve("h:1", ["bootstrap.servers=x:1"])).Message);
    }

    [Theory]
    [InlineData("impressions", "impressions", 1)]
    [InlineData("impressions:8", "impressions", 8)]
    public void TopicSpec_Parses(string text, string name, int partitions) =>
        Assert.Equal(new TopicSpec(name, partitions), TopicSpec.Parse(text));

    [Theory]
    [InlineData("t:0")]
    [InlineData("t:x")]
    [InlineData("bad name:2")]
    [InlineData(":2")]
    public void TopicSpec_RefusesBadInput(string text) =>
        Assert.Contains("--topic", Assert.Throws<FormatException>(() => TopicSpec.Parse(text)).Message);
}
