using RecsysEmbed.Core.Batching;

namespace RecsysEmbed.Core.Hashing;

/// <summary>
/// Maps a feature's 63-bit hashed ids to dense indices [0, Capacity) in order of first appearance, so families that
/// need ids below the cardinality (full, QR, mixed dimension) get collision-free rows for the first Capacity
/// distinct values (as TorchRec's managed collision modules and Monolith's collisionless tables do). Values seen
/// after the vocabulary is full share rows by hashing (counted in <see cref="Overflowed"/>). First appearance
/// approximates frequency rank on streams, which the mixed-dimension hot block relies on.
/// <code>
///   _keys / _values : open addressing, linear probing, sized once (2 x capacity, never resized): id -> index
///   _ids            : index -> id (NoId for an index not assigned yet), grown by doubling
/// </code>
/// <see cref="IndexOf"/> (the trainer) is single-threaded. A replica (the lookup service) learns the trainer's
/// growth with <see cref="Assign"/>: one writer, any number of concurrent <see cref="Find"/> readers, because the
/// index is written before the key is published (Volatile) and ids never move.
/// A vocabulary is either a primary (IndexOf) or a replica (Assign); mixing them could give one index twice.
/// </summary>
public sealed class IdVocabulary
{
    /// <summary>Marks an empty slot and an unassigned index (hashed ids are 63-bit, never negative).</summary>
    public const long NoId = -1;

    private readonly long[] _keys;
    private readonly int[] _values;
    private readonly int _mask;
    private readonly ulong _overflowSeed;
    private long[] _ids;

    public IdVocabulary(string featureName, long capacity, ulong seed = 1)
    {
        if (capacity < 1 || capacity > int.MaxValue / 2)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"vocabulary of '{featureName}' must hold 1 to {int.MaxValue / 2} ids.");
        FeatureName = featureName;
        Capacity = capacity;
        int size = (int)Math.Min(1L << 30, Math.Max(16, System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)capacity * 2)));
        _keys = new long[size];
        _values = new int[size];
        Array.Fill(_keys, NoId);
        _ids = new long[(int)Math.Min(capacity, 16)];
        Array.Fill(_ids, NoId);
        _mask = size - 1;
        _overflowSeed = BucketHash.DeriveSeed(seed, 77);
    }

    public string FeatureName { get; }
    public long Capacity { get; }
    /// <summary>Distinct ids that got their own index.</summary>
    public long Count { get; private set; }
    /// <summary>Lookups of ids that arrived after the vocabulary was full (they share rows).</summary>
    public long Overflowed { get; private set; }
    /// <summary>One past the highest assigned index (equals <see cref="Count"/> unless a replica has holes).</summary>
    public long Length { get; private set; }

    /// <summary>Dense index of id, assigning the next free one on first sight.</summary>
    public long IndexOf(long id)
    {
        int h = (int)BucketHash.Mix(id, 0xD6E8FEB86659FD93ul) & _mask;
        while (true)
        {
            long k = _keys[h];
            if (k == id) return _values[h];
            if (k == NoId)
            {
                if (Count >= Capacity)
                {
                    Overflowed++;
                    return BucketHash.Bucket(id, _overflowSeed, Capacity);
                }
                int index = (int)Count;
                _values[h] = index;
                Volatile.Write(ref _keys[h], id);
                RecordInIndexOrder(id, index);
                return Count++;
            }
            h = (h + 1) & _mask;
        }
    }

    /// <summary>
    /// Index of id without assigning one: its own index when the vocabulary has it, else the shared overflow row that
    /// a full vocabulary would give it. Never changes the vocabulary, so readers may call it from many threads.
    /// </summary>
    public long Find(long id)
    {
        int h = (int)BucketHash.Mix(id, 0xD6E8FEB86659FD93ul) & _mask;
        while (true)
        {
            // Acquire: a key seen here was published after its index (see Assign), so _values[h] is already set.
            long k = Volatile.Read(ref _keys[h]);
            if (k == id) return _values[h];
            if (k == NoId) return BucketHash.Bucket(id, _overflowSeed, Capacity);
            h = (h + 1) & _mask;
        }
    }

    /// <summary>Rewrites feature <paramref name="featureIndex"/>'s ids of the batch in place.</summary>
    public void Remap(KeyedJaggedBatch batch, int featureIndex)
    {
        var offsets = batch.Offsets;
        int start = offsets[featureIndex * batch.BatchSize], end = offsets[(featureIndex + 1) * batch.BatchSize];
        var values = batch.RawValues;
        for (int i = start; i < end; i++) values[i] = IndexOf(values[i]);
    }

    /// <summary>
    /// Inserts a mapping learned from the vocabulary's primary (the trainer). Idempotent; a mapping that contradicts
    /// one already held is refused (<see cref="VocabularyAssignment.Conflict"/>), never overwritten. Safe with one
    /// writer and concurrent <see cref="Find"/> readers, which see either the overflow row or <paramref name="index"/>.
    /// </summary>
    public VocabularyAssignment Assign(long id, long index)
    {
        if (id < 0) ThrowHelper.OutOfRange(nameof(id), id, $"vocabulary of '{FeatureName}': ids are 63-bit hashes, never negative.");
        if (index < 0 || index >= Capacity) ThrowHelper.OutOfRange(nameof(index), index, $"vocabulary of '{FeatureName}' has indices 0..{Capacity - 1}.");
        int h = (int)BucketHash.Mix(id, 0xD6E8FEB86659FD93ul) & _mask;
        while (true)
        {
            long k = _keys[h];
            if (k == id) return _values[h] == index ? VocabularyAssignment.Known : VocabularyAssignment.Conflict;
            if (k == NoId) break;
            h = (h + 1) & _mask;
        }
        if (index < Length && _ids[index] != NoId) return VocabularyAssignment.Conflict;
        // Count < Capacity here: every index below Capacity is free or taken, and this one is free.
        _values[h] = (int)index;
        Volatile.Write(ref _keys[h], id); // publish the key last: a reader that sees it also sees the index
        RecordInIndexOrder(id, (int)index);
        Count++;
        return VocabularyAssignment.Added;
    }

    /// <summary>Ids of indices <paramref name="firstIndex"/>..<see cref="Length"/>-1 in index order (<see cref="NoId"/> for holes).</summary>
    public ReadOnlySpan<long> IdsFrom(long firstIndex)
    {
        if (firstIndex < 0 || firstIndex > Length) ThrowHelper.OutOfRange(nameof(firstIndex), firstIndex, $"vocabulary of '{FeatureName}' has {Length} indices.");
        return _ids.AsSpan((int)firstIndex, (int)(Length - firstIndex));
    }

    /// <summary>(id, index) pairs from <paramref name="firstIndex"/> on, in index order (holes skipped).</summary>
    public IEnumerable<(long Id, int Index)> EntriesFrom(long firstIndex)
    {
        if (firstIndex < 0) ThrowHelper.OutOfRange(nameof(firstIndex), firstIndex, "first index must be >= 0.");
        for (long i = firstIndex; i < Length; i++)
        {
            long id = _ids[i];
            if (id != NoId) yield return (id, (int)i);
        }
    }

    /// <summary>(id, index) pairs in index order, for checkpoints.</summary>
    public IEnumerable<(long Id, int Index)> Entries() => EntriesFrom(0);

    private void RecordInIndexOrder(long id, int index)
    {
        if (index >= _ids.Length)
        {
            long size = Math.Min(Capacity, Math.Max((long)_ids.Length * 2, index + 1L));
            int old = _ids.Length;
            Array.Resize(ref _ids, (int)size);
            _ids.AsSpan(old).Fill(NoId);
        }
        for (long i = Length; i < index; i++) _ids[i] = NoId;
        _ids[index] = id;
        if (index >= Length) Length = index + 1;
    }

    /// <summary>Restores entries written by <see cref="Entries"/> (into an empty vocabulary).</summary>
    public void Restore(IEnumerable<(long Id, int Index)> entries, long overflowed)
    {
        if (Count != 0) throw new InvalidOperationException($"vocabulary of '{FeatureName}' is not empty.");
        foreach (var (id, index) in entries)
        {
            int h = (int)BucketHash.Mix(id, 0xD6E8FEB86659FD93ul) & _mask;
            while (_keys[h] != NoId) h = (h + 1) & _mask;
            _values[h] = index;
            Volatile.Write(ref _keys[h], id);
            RecordInIndexOrder(id, index);
            Count++;
        }
        Overflowed = overflowed;
    }
}
