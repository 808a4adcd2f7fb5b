using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Kernels;

/// <summary>
/// Deduplicates the rows touched in one backward pass and sums their gradients, so the fused optimizer sees each
/// row once. Rows are split into P partitions by a hash of the row (P = kernel threads), so P threads can sum and
/// apply in parallel without sharing a row; within a partition, open addressing (linear probing) maps row -> slot,
/// and a row's contributions are summed in the order they arrive. The result is therefore the same for any P.
/// <code>
///   partition p:  table   [ (row, slot, stamp) ... ]   hash table, cleared lazily through a generation stamp
///                 rows    [ r_0 r_1 ... ]               unique rows of p in first-touch order
///                 grads   [ g(r_0) | g(r_1) | ... ]     summed gradients, Dim floats each
/// </code>
/// Everything lives in native memory that grows geometrically and is reused: a steady-state step allocates
/// nothing, and worker threads can be handed plain pointers.
/// </summary>
public sealed unsafe class RowGradientAccumulator : IDisposable
{
    internal struct Entry
    {
        public long Key;
        public int Slot;
        public int Stamp;
    }

    /// <summary>One partition's state; unmanaged so kernels on worker threads can use it through a pointer.</summary>
    internal struct Partition
    {
        public Entry* Table;
        public int Mask;
        public int Generation;
        public long* Rows;
        public float* Grads;
        public int Count;
        public int Capacity;
        public int Dim;
    }

    private readonly int _dim;
    private readonly Partition* _parts;

    public RowGradientAccumulator(int dim, int partitions = 0)
    {
        if (dim <= 0) ThrowHelper.OutOfRange(nameof(dim), dim, "dim must be > 0.");
        _dim = dim;
        PartitionCount = partitions > 0 ? partitions : KernelThreads.Shared.ThreadCount;
        _parts = (Partition*)NativeMemory.AllocZeroed((nuint)(PartitionCount * sizeof(Partition)));
        for (int p = 0; p < PartitionCount; p++)
        {
            ref var part = ref _parts[p];
            part.Dim = dim;
            part.Generation = 1;
            AllocateTable(ref part, 1024);
            part.Capacity = 256;
            part.Rows = (long*)NativeMemory.Alloc((nuint)(part.Capacity * sizeof(long)));
            part.Grads = (float*)NativeMemory.AlignedAlloc((nuint)(part.Capacity * (long)dim * sizeof(float)), 64);
        }
    }

    public int PartitionCount { get; }

    /// <summary>Unique rows so far, over all partitions.</summary>
    public int Count
    {
        get
        {
            int n = 0;
            for (int p = 0; p < PartitionCount; p++) n += _parts[p].Count;
            return n;
        }
    }

    internal Partition* Partitions => _parts;

    /// <summary>Partition that owns a row (high bits of a hash, independent of the probe position).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Owner(long row, int partitions) =>
        partitions == 1 ? 0 : (int)(((BucketHash.Mix(row, 0x2545F4914F6CDD1Dul) >> 32) * (ulong)partitions) >> 32); // multiply-shift, no division

    /// <summary>The gradient row of <paramref name="row"/>, zeroed on first touch in this step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Slot(long row) => Slot(ref _parts[Owner(row, PartitionCount)], row);

    /// <summary>Prefetches the hash slot of a row that will be looked up soon (random probes miss the caches).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(long row) => Prefetch(ref _parts[Owner(row, PartitionCount)], row);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float* Slot(ref Partition part, long row)
    {
        int h = Home(row, part.Mask);
        while (true)
        {
            ref var e = ref part.Table[h];
            if (e.Stamp != part.Generation) return Insert(ref part, row, h);
            if (e.Key == row) return part.Grads + (long)e.Slot * part.Dim;
            h = (h + 1) & part.Mask;
        }
    }

    /// <summary>
    /// The gradient row of <paramref name="row"/>; on first touch in this step it is NOT zeroed and
    /// <paramref name="fresh"/> is true, so the caller writes it instead of adding to it (saves a pass over the row).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float* SlotUninitialized(ref Partition part, long row, out bool fresh)
    {
        int h = Home(row, part.Mask);
        while (true)
        {
            ref var e = ref part.Table[h];
            if (e.Stamp != part.Generation)
            {
                fresh = true;
                return Insert(ref part, row, h, clear: false);
            }
            if (e.Key == row)
            {
                fresh = false;
                return part.Grads + (long)e.Slot * part.Dim;
            }
            h = (h + 1) & part.Mask;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Prefetch(ref Partition part, long row)
    {
        if (Sse.IsSupported) Sse.Prefetch0(part.Table + Home(row, part.Mask));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Home(long row, int mask) => (int)BucketHash.Mix(row, 0x51ED270B27B5A9E1ul) & mask;

    private static float* Insert(ref Partition part, long row, int h, bool clear = true)
    {
        if ((part.Count + 1) * 2 > part.Mask + 1)
        {
            Rehash(ref part, (part.Mask + 1) * 2);
            h = Home(row, part.Mask);
            while (part.Table[h].Stamp == part.Generation) h = (h + 1) & part.Mask;
        }
        if (part.Count == part.Capacity) Grow(ref part);
        part.Table[h] = new Entry { Key = row, Slot = part.Count, Stamp = part.Generation };
        part.Rows[part.Count] = row;
        float* g = part.Grads + (long)part.Count * part.Dim;
        if (clear) new Span<float>(g, part.Dim).Clear();
        part.Count++;
        return g;
    }

    private static void Grow(ref Partition part)
    {
        int capacity = part.Capacity * 2;
        part.Rows = (long*)NativeMemory.Realloc(part.Rows, (nuint)(capacity * sizeof(long)));
        var grads = (float*)NativeMemory.AlignedAlloc((nuint)(capacity * (long)part.Dim * sizeof(float)), 64);
        Buffer.MemoryCopy(part.Grads, grads, capacity * (long)part.Dim * sizeof(float), part.Count * (long)part.Dim * sizeof(float));
        NativeMemory.AlignedFree(part.Grads);
        part.Grads = grads;
        part.Capacity = capacity;
    }

    private static void AllocateTable(ref Partition part, int size)
    {
        if (part.Table != null) NativeMemory.Free(part.Table);
        part.Table = (Entry*)NativeMemory.AllocZeroed((nuint)(size * (long)sizeof(Entry)));
        part.Mask = size - 1;
        part.Generation = 1;
    }

    private static void Rehash(ref Partition part, int size)
    {
        AllocateTable(ref part, size);
        for (int s = 0; s < part.Count; s++)
        {
            long row = part.Rows[s];
            int h = Home(row, part.Mask);
            while (part.Table[h].Stamp == part.Generation) h = (h + 1) & part.Mask;
            part.Table[h] = new Entry { Key = row, Slot = s, Stamp = part.Generation };
        }
    }

    /// <summary>Unique rows of every partition, partition by partition (tests and tools; allocates).</summary>
    public long[] CopyRows()
    {
        var rows = new List<long>();
        for (int p = 0; p < PartitionCount; p++)
            for (int i = 0; i < _parts[p].Count; i++) rows.Add(_parts[p].Rows[i]);
        return rows.ToArray();
    }

    /// <summary>Summed gradients in <see cref="CopyRows"/> order (tests and tools; allocates).</summary>
    public float[] CopyGradients()
    {
        var grads = new List<float>();
        for (int p = 0; p < PartitionCount; p++)
            grads.AddRange(new ReadOnlySpan<float>(_parts[p].Grads, _parts[p].Count * _dim));
        return grads.ToArray();
    }

    /// <summary>Summed gradient of a row touched this step, or an empty span.</summary>
    public ReadOnlySpan<float> GradientOf(long row)
    {
        ref var part = ref _parts[Owner(row, PartitionCount)];
        for (int i = 0; i < part.Count; i++)
        {
            if (part.Rows[i] == row) return new ReadOnlySpan<float>(part.Grads + (long)i * _dim, _dim);
        }
        return default;
    }

    /// <summary>Applies the summed gradients to <paramref name="matrix"/> with its fused optimizer (one step) and clears.</summary>
    public void ApplyTo(EmbeddingMatrix matrix, int threads)
    {
        if (matrix.Dim != _dim) ThrowHelper.Argument(nameof(matrix), $"matrix '{matrix.Name}' has dim {matrix.Dim}, the accumulator {_dim}.");
        if (Count > 0) matrix.ApplyPartitions(_parts, PartitionCount, threads);
        Clear();
    }

    /// <summary>Forgets this step's rows in O(1).</summary>
    public void Clear()
    {
        for (int p = 0; p < PartitionCount; p++)
        {
            ref var part = ref _parts[p];
            part.Count = 0;
            if (++part.Generation == int.MaxValue) AllocateTable(ref part, part.Mask + 1);
        }
    }

    public void Dispose()
    {
        if (_parts == null) return;
        for (int p = 0; p < PartitionCount; p++)
        {
            ref var part = ref _parts[p];
            if (part.Table != null) NativeMemory.Free(part.Table);
            if (part.Rows != null) NativeMemory.Free(part.Rows);
            if (part.Grads != null) NativeMemory.AlignedFree(part.Grads);
            part = default;
        }
        GC.SuppressFinalize(this);
    }

    ~RowGradientAccumulator() => Dispose();
}
