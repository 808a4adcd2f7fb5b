using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Kernels;

/// <summary>
/// Deduplicates the rows touched in one backward pass and sums their gradients, so the fused optimizer sees
/// each row once. Open addressing (linear probing) over row ids; slots keep first-touch order and gradients
/// are summed in the order contributions arrive, so the result is deterministic for a given input.
/// <code>
///   keys/slots  hash table: row -> slot            (cleared lazily through a generation stamp)
///   rows        [ r_0 r_1 ... r_{U-1} ]             unique rows in first-touch order
///   grads       [ g(r_0) | g(r_1) | ... ]           U x Dim summed gradients
/// </code>
/// Buffers grow geometrically and are reused, so a steady-state step allocates nothing.
/// </summary>
public sealed unsafe class RowGradientAccumulator : IDisposable
{
    private readonly int _dim;
    // One 16-byte entry per hash slot, so a probe touches one cache line (not three arrays).
    private struct Entry
    {
        public long Key;
        public int Slot;
        public int Stamp;
    }

    private Entry[] _table = new Entry[1024];
    private int _generation = 1;
    private long[] _rows = new long[512];
    private float* _grads;
    private int _gradCapacity = 512;
    private int _count;

    public RowGradientAccumulator(int dim)
    {
        _dim = dim;
        _grads = (float*)NativeMemory.AlignedAlloc((nuint)(_gradCapacity * (long)dim * sizeof(float)), 64);
    }

    public int Count => _count;
    public ReadOnlySpan<long> Rows => _rows.AsSpan(0, _count);
    public ReadOnlySpan<float> Gradients => new(_grads, checked(_count * _dim));

    /// <summary>The gradient row of <paramref name="row"/>, zeroed on first touch in this step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Slot(long row)
    {
        var table = _table;
        int mask = table.Length - 1;
        int h = Home(row, mask);
        while (true)
        {
            ref var e = ref table[h];
            if (e.Stamp != _generation)
                return Insert(row, h);
            if (e.Key == row)
                return _grads + (long)e.Slot * _dim;
            h = (h + 1) & mask;
        }
    }

    /// <summary>Prefetches the hash slot of a row that will be looked up soon (random probes miss the caches).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(long row)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        var table = _table;
        fixed (Entry* e = &table[Home(row, table.Length - 1)]) System.Runtime.Intrinsics.X86.Sse.Prefetch0(e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Home(long row, int mask) => (int)BucketHash.Mix(row, 0x51ED270B27B5A9E1ul) & mask;

    private float* Insert(long row, int h)
    {
        if (_count == _gradCapacity) GrowGrads();
        if ((_count + 1) * 2 > _table.Length)
        {
            Rehash(_table.Length * 2);
            return Slot(row);
        }
        _table[h] = new Entry { Key = row, Slot = _count, Stamp = _generation };
        if (_count == _rows.Length) Array.Resize(ref _rows, _rows.Length * 2);
        _rows[_count] = row;
        float* g = _grads + (long)_count * _dim;
        new Span<float>(g, _dim).Clear();
        _count++;
        return g;
    }

    private void GrowGrads()
    {
        int capacity = _gradCapacity * 2;
        var grown = (float*)NativeMemory.AlignedAlloc((nuint)(capacity * (long)_dim * sizeof(float)), 64);
        Buffer.MemoryCopy(_grads, grown, capacity * (long)_dim * sizeof(float), _count * (long)_dim * sizeof(float));
        NativeMemory.AlignedFree(_grads);
        _grads = grown;
        _gradCapacity = capacity;
    }

    private void Rehash(int size)
    {
        _table = new Entry[size];
        _generation = 1;
        int mask = size - 1;
        for (int s = 0; s < _count; s++)
        {
            long row = _rows[s];
            int h = Home(row, mask);
            while (_table[h].Stamp == _generation) h = (h + 1) & mask;
            _table[h] = new Entry { Key = row, Slot = s, Stamp = _generation };
        }
    }

    /// <summary>Applies the summed gradients to <paramref name="matrix"/> with its fused optimizer and clears.</summary>
    public void ApplyTo(EmbeddingMatrix matrix, int threads)
    {
        if (matrix.Dim != _dim) ThrowHelper.Argument(nameof(matrix), $"matrix '{matrix.Name}' has dim {matrix.Dim}, the accumulator {_dim}.");
        if (_count > 0) matrix.ApplyRowGradients(Rows, Gradients, threads);
        Clear();
    }

    /// <summary>Forgets this step's rows in O(1).</summary>
    public void Clear()
    {
        _count = 0;
        if (++_generation == int.MaxValue)
        {
            Array.Clear(_table);
            _generation = 1;
        }
    }

    public void Dispose()
    {
        if (_grads != null) { NativeMemory.AlignedFree(_grads); _grads = null; }
        GC.SuppressFinalize(this);
    }

    ~RowGradientAccumulator() => Dispose();
}
