using Confluent.Kafka;

namespace RecsysEmbed.Streaming.Broker;

/// <summary>A topic to create on an embedded broker: <c>NAME:PARTITIONS</c> on the command line.</summary>
public readonly record struct TopicSpec(string Name, int Partitions)
{
    /// <summary>Parses <c>NAME</c> or <c>NAME:PARTITIONS</c>; errors name the option and the value.</summary>
    public static TopicSpec Parse(string text, int defaultPartitions = 1, string option = "--topic")
    {
        if (string.IsNullOrWhiteSpace(text)) throw new FormatException($"{option}: empty topic.");
        int colon = text.LastIndexOf(':');
        if (colon < 0) return new TopicSpec(CheckName(text, option), defaultPartitions);
        string name = CheckName(text[..colon], option);
        if (!int.TryParse(text[(colon + 1)..], out int partitions) || partitions < 1)
            throw new FormatException($"{option}: '{text}': partitions '{text[(colon + 1)..]}' must be an integer >= 1.");
        return new TopicSpec(name, partitions);
    }

    private static string CheckName(string name, string option)
    {
        if (name.Length is 0 or > 249 || name is "." or ".." || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            throw new FormatException($"{option}: topic name '{name}' is not valid (1..249 of [a-zA-Z0-9._-]).");
        return name;
    }

    public override string ToString() => $"{Name}:{Partitions}";
}

/// <summary>
/// Where clients connect: <c>--bootstrap embedded</c> starts an <see cref="EmbeddedKafka"/> in this process (owned,
/// disposed with the endpoint); <c>--bootstrap host:port,...</c> names a real cluster, with client settings such as
/// <c>security.protocol</c>, <c>sasl.*</c> and <c>ssl.*</c> passed through to every client unchanged.
/// </summary>
public sealed class KafkaEndpoint : IDisposable
{
    public const string EmbeddedKeyword = "embedded";

    private readonly Dictionary<string, string> _properties;

    private KafkaEndpoint(string bootstrap, EmbeddedKafka? embedded, Dictionary<string, string> properties)
    {
        BootstrapServers = bootstrap;
        Embedded = embedded;
        _properties = properties;
    }

    public string BootstrapServers { get; }

    /// <summary>The in-process broker when <c>--bootstrap embedded</c>; null for a real cluster.</summary>
    public EmbeddedKafka? Embedded { get; }

    public bool IsEmbedded => Embedded is not null;

    /// <summary>Client settings passed through to every producer and consumer (security and the like).</summary>
    public IReadOnlyDictionary<string, string> Properties => _properties;

    /// <summary>Uses an embedded broker someone else owns (tests, the quickstart); disposing the endpoint leaves it running.</summary>
    public static KafkaEndpoint ForEmbedded(EmbeddedKafka kafka) => new(kafka.BootstrapServers, null, []) { _borrowed = kafka };

    private EmbeddedKafka? _borrowed;

    /// <summary>The broker to inject faults into or create topics on, owned or borrowed; null for a real cluster.</summary>
    public EmbeddedKafka? Broker => Embedded ?? _borrowed;

    /// <summary>
    /// Resolves <paramref name="bootstrap"/>: <c>embedded</c> starts a broker and creates <paramref name="topics"/> on
    /// it; otherwise a comma-separated host:port list. <paramref name="properties"/> are <c>key=value</c> client
    /// settings (for example <c>security.protocol=SASL_SSL</c>, <c>sasl.mechanism=PLAIN</c>,
    /// <c>ssl.ca.location=/etc/ca.pem</c>). Errors name the option and the value.
    /// </summary>
    public static KafkaEndpoint Resolve(string bootstrap, IEnumerable<string>? properties = null, IEnumerable<TopicSpec>? topics = null, int embeddedBrokers = 1)
    {
        var props = ParseProperties(properties ?? []);
        if (string.IsNullOrWhiteSpace(bootstrap)) throw new FormatException("--bootstrap: empty; give host:port[,host:port...] or 'embedded'.");
        if (bootstrap.Trim().Equals(EmbeddedKeyword, StringComparison.OrdinalIgnoreCase))
        {
            var kafka = EmbeddedKafka.Start(embeddedBrokers);
            try
            {
                foreach (var t in topics ?? []) kafka.CreateTopic(t.Name, t.Partitions);
            }
            catch
            {
                kafka.Dispose();
                throw;
            }
            return new KafkaEndpoint(kafka.BootstrapServers, kafka, props);
        }
        foreach (string server in bootstrap.Split(','))
        {
            string s = server.Trim();
            int colon = s.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(s[(colon + 1)..], out int port) || port is < 1 or > 65535)
                throw new FormatException($"--bootstrap: '{s}' is not host:port (port 1..65535); give host:port[,host:port...] or 'embedded'.");
        }
        return new KafkaEndpoint(bootstrap.Trim(), null, props);
    }

    /// <summary>Producer settings: the bootstrap servers, then the pass-through properties.</summary>
    public ProducerConfig ProducerConfig() => Apply(new ProducerConfig());

    /// <summary>
    /// Consumer settings: the bootstrap servers, then the pass-through properties. On an embedded broker the group
    /// session is short (3 s, heartbeat 0.5 s): the mock coordinator holds a rebalance until every earlier member's
    /// session expired, even after a clean leave, so the default 45 s would stall every restart and rebalance.
    /// </summary>
    public ConsumerConfig ConsumerConfig(string groupId)
    {
        var config = new ConsumerConfig { GroupId = groupId };
        if (Broker is not null)
        {
            config.SessionTimeoutMs = 3_000;
            config.HeartbeatIntervalMs = 500;
        }
        return Apply(config);
    }

    public AdminClientConfig AdminConfig() => Apply(new AdminClientConfig());

    private T Apply<T>(T config) where T : ClientConfig
    {
        config.BootstrapServers = BootstrapServers;
        foreach (var (k, v) in _properties) config.Set(k, v);
        return config;
    }

    private static Dictionary<string, string> ParseProperties(IEnumerable<string> items)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string item in items)
        {
            int eq = item.IndexOf('=');
            if (eq <= 0) throw new FormatException($"--kafka-property: '{item}' is not key=value (for example security.protocol=SASL_SSL).");
            string key = item[..eq].Trim();
            if (key is "bootstrap.servers") throw new FormatException("--kafka-property: bootstrap.servers is set by --bootstrap.");
            result[key] = item[(eq + 1)..];
        }
        return result;
    }

    public void Dispose() => Embedded?.Dispose();
}
