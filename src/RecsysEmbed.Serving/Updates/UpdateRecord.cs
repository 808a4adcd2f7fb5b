namespace RecsysEmbed.Serving.Updates;

/// <summary>One record of the update topic and where it came from (topic, partition, offset).</summary>
public readonly record struct UpdateRecord(string Topic, int Partition, long Offset, ReadOnlyMemory<byte> Key, ReadOnlyMemory<byte> Value)
{
    public string PartitionKey => PartitionKeyOf(Topic, Partition);
    public static string PartitionKeyOf(string topic, int partition) => $"{topic}/{partition}";
}

/// <summary>A malformed update record, set aside with why it was refused.</summary>
public sealed record MalformedUpdate(string Topic, int Partition, long Offset, string Error);

/// <summary>
/// Where update records come from (a Kafka consumer, or anything that replays the topic's records in partition
/// order). The applier seeks it to the offsets stored with the store's checkpoint, so a restart resumes exactly.
/// </summary>
public interface IUpdateSource : IDisposable
{
    /// <summary>Starts reading; partitions listed in <paramref name="nextOffsets"/> ("topic/partition") resume there.</summary>
    void Start(IReadOnlyDictionary<string, long> nextOffsets);

    /// <summary>The next record, waiting at most <paramref name="wait"/>; false when none arrived in time.</summary>
    bool TryNext(TimeSpan wait, out UpdateRecord record, CancellationToken cancel);
}
