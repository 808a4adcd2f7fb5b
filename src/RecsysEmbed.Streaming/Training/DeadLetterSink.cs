using System.Text;
using Confluent.Kafka;

namespace RecsysEmbed.Streaming.Training;

/// <summary>
/// Sets malformed records aside on the dead-letter topic: the original key and value, with headers
/// <c>error</c>, <c>error.field</c>, <c>source.topic</c>, <c>source.partition</c>, <c>source.offset</c> (UTF-8 text).
/// Idempotent producer with acks=all and no delivery timeout; <see cref="Flush"/> before a checkpoint makes
/// every dead letter of the checkpointed range durable (a crash can re-send letters of the range after it:
/// at-least-once, deduplicate by source.partition + source.offset).
/// </summary>
internal sealed class DeadLetterSink(ProducerConfig config, string topic) : IDisposable
{
    private readonly IProducer<byte[]?, byte[]?> _producer = new ProducerBuilder<byte[]?, byte[]?>(Configure(config)).Build();
    private Error? _error;

    public string Topic { get; } = topic;
    public long Sent { get; private set; }

    public static class Headers
    {
        public const string Error = "error";
        public const string Field = "error.field";
        public const string SourceTopic = "source.topic";
        public const string SourcePartition = "source.partition";
        public const string SourceOffset = "source.offset";
    }

    public void Send(ConsumeResult<byte[]?, byte[]?> source, string sourceTopic, string field, string error)
    {
        var headers = new Confluent.Kafka.Headers
        {
            { Headers.Error, Encoding.UTF8.GetBytes(error) },
            { Headers.Field, Encoding.UTF8.GetBytes(field) },
            { Headers.SourceTopic, Encoding.UTF8.GetBytes(sourceTopic) },
            { Headers.SourcePartition, Encoding.UTF8.GetBytes(source.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)) },
            { Headers.SourceOffset, Encoding.UTF8.GetBytes(source.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)) },
        };
        var message = new Message<byte[]?, byte[]?> { Key = source.Message.Key, Value = source.Message.Value, Headers = headers };
        while (true)
        {
            try
            {
                _producer.Produce(Topic, message, r => { if (r.Error.IsError) _error ??= r.Error; });
                Sent++;
                return;
            }
            catch (ProduceException<byte[]?, byte[]?> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                _producer.Poll(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    /// <summary>Waits until every letter sent so far is acknowledged.</summary>
    public void Flush()
    {
        while (_producer.Flush(TimeSpan.FromSeconds(1)) > 0) { }
        if (_error is { } e) throw new KafkaException(e);
    }

    private static ProducerConfig Configure(ProducerConfig config)
    {
        config.EnableIdempotence = true;
        config.Acks = Acks.All;
        config.MessageTimeoutMs = 0;
        return config;
    }

    public void Dispose() => _producer.Dispose();
}
