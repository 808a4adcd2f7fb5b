using RecsysEmbed.Core.Batching;

namespace RecsysEmbed.Core.Hashing;

/// <summary>
/// Maps a feature's 63-bit hashed ids to dense indices [0, Capacity) in order of first appearance, so families that
/// need ids below the cardinality (full, QR, mixed dimension) get collision-free rows for the first Capacity
/// distinct values (as TorchRec's managed collision modules and Monolith's collisionless tables do). Values seen
/// after the vocabulary is full share rows by hashing (counted in <see cref="Overflowed"/>). First appearance
/// approximates frequency rank on streams, which the mixed-dimension hot block relies on.
/// Not thread-safe; open addressing with linear probing.
/// </summary>
public sealed class IdVocabulary
{
    private long[] _keys;
    private int[] _values;
    private readonly int _mask;
    private readonly ulong _overflowSeed;

    public IdVocabulary(string featureName, long capacity, ulong seed = 1)
    {
        if (capacity < 1 || capacity > int.MaxValue / 2)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"vocabulary of '{featureName}' must hold 1 to {int.MaxValue / 2} ids.");
        FeatureName = featureName;
        Capacity = capacity;
        int size = (int)Math.Min(1L << 30, Math.Max(16, System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)capacity * 2)));
        _keys = new long[size];
        _values = new int[size];
        Array.Fill(_keys, -1);
        _mask = size - 1;
        _overflowSeed = BucketHash.DeriveSeed(seed, 77);
    }

    public string FeatureName { get; }
    public long Capacity { get; }
    /// <summary>Distinct ids that got their own index.</summary>
    public long Count { get; private set; }
    /// <summary>Lookups of ids that arrived after the vocabulary was full (they share rows).</summary>
    public long Overflowed { get; private set; }

    /// <summary>Dense index of id, assigning the next free one on first sight.</summary>
    public long IndexOf(long id)
    {
        int h = (int)BucketHash.Mix(id, 0xD6E8FEB86659FD93ul) & _mask;
        while (true)
        {
            long k = _keys[h];
            if (k == id) return _values[h];
            if (k == -1)
            {
                if (Count >= Capacity)
                {
                    Overflowed++;
                    return BucketHash.Bucket(id, _overflowSeed, Capacity);
                }
                _keys[h] = id;
                _values[h] = (int)Count;
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
            long k = _keys[h];
            if (k == id) return _values[h];
            if (k == -1) return BucketHash.Bucket(id, _overflowSeed, Capacity);
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

    /// <summary>(id, index) pairs, for checkpoints.</summary>
    public IEnumerable<(long Id, int Index)> Entries()
    {
        for (int h = 0; h < _keys.Length; h++)
        {
            if (_keys[h] != -1) yield return (_keys[h], _values[h]);
        }
    }

    /// <summary>Restores entries written by <see cref="Entries"/> (into an empty vocabulary).</summary>
    public void Restore(IEnumerable<(long Id, int Index)> entries, long overflowed)
    {
        if (Count != 0) throw new InvalidOperationException($"vocabulary of '{FeatureName}' is not empty.");
        foreach (var (id, index) in entries)
        {
            int h = (int)BucketHash.Mix(id, 0xD6E8FEB86659FD93ul) & _mask;
            while (_keys[h] != -1) h = (h + 1) & _mask;
            _keys[h] = id;
            _values[h] = index;
            Count++;
        }
        Overflowed = overflowed;
    }
}
