using Confluent.Kafka;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Schema;

namespace RecsysEmbed.Streaming.Training;

/// <summary>
/// Offset bookkeeping of one assigned partition, and the micro-batch being filled from it. Batch boundaries are a
/// function of offsets only: block k of a partition holds offsets [k*B, (k+1)*B), so a trainer restarted from a
/// checkpoint (which always ends at a block boundary, except after a drain) cuts exactly the same batches as one that
/// never stopped, however its polls happened to be timed.
/// <code>
///   offsets    ... 2046 2047 | 2048 2049 2050 ... 4095 | 4096 ...      (B = 2048)
///   Trained  = 2048 ─────────┘  (first offset not yet trained: what a checkpoint stores)
///   Next     = 2051 ──────────────────┘ (next offset expected from the broker)
///   BlockEnd = 4096 ───────────────────────────────────┘ (when Next reaches it, the block is trained)
/// </code>
/// A record whose offset is above <see cref="Next"/> means the offsets in between are gone (retention, an
/// out-of-range reset): they are counted as lost, never silently skipped.
/// </summary>
internal sealed class PartitionBlock
{
    private readonly int _blockRecords;

    public PartitionBlock(TopicPartition partition, long trained, int blockRecords, DatasetSchema schema, ulong hashSeed)
    {
        Partition = partition;
        _blockRecords = blockRecords;
        Builder = new CtrBatchBuilder(schema, hashSeed);
        Reset(trained);
    }

    public TopicPartition Partition { get; }

    /// <summary>First offset not yet trained; everything below it is trained, dead-lettered or counted as lost. -1: unknown yet.</summary>
    public long Trained { get; private set; }

    /// <summary>Next offset expected; -1 until the first record when the start offset is unknown.</summary>
    public long Next { get; private set; }

    public long BlockEnd { get; private set; }

    public CtrBatchBuilder Builder { get; }

    /// <summary>Record ids in the block, in offset order (for exactly-once accounting).</summary>
    public List<long> RecordIds { get; } = [];

    /// <summary>Production time (Unix ms) of each sample in the block, for freshness.</summary>
    public List<long> Timestamps { get; } = [];

    public int DeadLettered { get; set; }
    public long Lost { get; set; }

    /// <summary>Records consumed into the block (trainable, dead-lettered or lost), not trained yet.</summary>
    public long Pending => Next < 0 || Trained < 0 ? 0 : Next - Trained;

    public bool IsComplete => Next >= 0 && Next == BlockEnd;

    /// <summary>Starts a new block at <paramref name="start"/> (a checkpoint's offset), dropping what was pending.</summary>
    public void Reset(long start)
    {
        Trained = start;
        Next = start;
        BlockEnd = start < 0 ? -1 : BlockEndFor(start);
        if (Builder.SampleCount > 0) Builder.Build(); // discard
        RecordIds.Clear();
        Timestamps.Clear();
        DeadLettered = 0;
        Lost = 0;
    }

    /// <summary>
    /// Accounts for a record at <paramref name="offset"/> before it is added. Returns how many offsets before it
    /// were missing (lost), or -1 when the offset is below <see cref="Next"/> (already seen: ignore the record).
    /// When the gap crosses the block's end, <see cref="IsComplete"/> turns true first: the caller trains the block,
    /// calls <see cref="Advance"/>, and offers the record again.
    /// </summary>
    public long Admit(long offset)
    {
        if (Next < 0) { Reset(offset); return 0; }
        if (offset < Next) return -1;
        if (offset >= BlockEnd)
        {
            Lost += BlockEnd - Next;
            long lost = BlockEnd - Next;
            Next = BlockEnd;
            return lost;
        }
        long gap = offset - Next;
        Lost += gap;
        Next = offset;
        return gap;
    }

    /// <summary>The record at <see cref="Next"/> was added to the block (or dead-lettered).</summary>
    public void Consumed() => Next++;

    /// <summary>After the block was trained: everything up to <see cref="Next"/> is trained; the next block starts there.</summary>
    public void Advance()
    {
        long start = Next;
        Reset(start);
    }

    private long BlockEndFor(long start) => (start / _blockRecords + 1) * _blockRecords;
}
