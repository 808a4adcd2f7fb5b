using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace RecsysEmbed.Serving.Store;

/// <summary>
/// Every row of every matrix, decoded to fp32, in one native array per matrix and indexed by row: the in-memory tier
/// in front of FASTER for models whose rows fit in RAM (HugeCTR's parameter server keeps such a tier in front of its
/// persistent database for the same reason). FASTER stays the durable store and the source for recovery; this tier
/// answers reads with one multiply and one copy per row instead of a hash-index probe and a record read. One row:
/// <code>
///   i64 seq | i64 version (-1 = not loaded) | f32 values[Dim]         (stride rounded up to 8 B)
/// </code>
/// Concurrency is a seqlock per row, the same protocol as <see cref="HotRowCache"/>: a writer makes seq odd with a
/// CAS, writes, makes it even; a reader copies between two reads of seq and treats a change, an odd seq or a row not
/// loaded as a miss (the caller then reads FASTER). Readers write nothing, so threads never contend on a read.
/// </summary>
public sealed unsafe class ResidentRows : IDisposable
{
    private const int HeaderBytes = 2 * sizeof(long);

    private readonly byte*[] _base;
    private readonly int[] _stride;
    private readonly long[] _rows;

    public ResidentRows(RowCatalog catalog)
    {
        int n = catalog.Matrices.Count;
        _base = new byte*[n];
        _stride = new int[n];
        _rows = new long[n];
        try
        {
            foreach (var m in catalog.Matrices)
            {
                int stride = (HeaderBytes + m.Dim * sizeof(float) + 7) & ~7;
                long bytes = checked(m.Rows * stride);
                var p = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 64), 64);
                _base[m.Id] = p;
                _stride[m.Id] = stride;
                _rows[m.Id] = m.Rows;
                Bytes += bytes;
                for (long r = 0; r < m.Rows; r++)
                {
                    long* header = (long*)(p + r * stride);
                    header[0] = 0;
                    header[1] = -1;
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Bytes of the tier (all matrices).</summary>
    public long Bytes { get; }

    /// <summary>Bytes the tier would take for <paramref name="catalog"/> (to check a memory limit before allocating).</summary>
    public static long BytesFor(RowCatalog catalog) => catalog.Matrices.Sum(m => m.Rows * ((HeaderBytes + m.Dim * sizeof(float) + 7) & ~7));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long* Row(int matrix, long row) => (long*)(_base[matrix] + row * _stride[matrix]);

    /// <summary>
    /// Asks the CPU to start loading the row's cache lines. A request's rows are scattered over far more memory than
    /// the caches hold, so each read is a DRAM miss; prefetching all of them before copying any overlaps the misses
    /// instead of paying them one after another.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(int matrix, long row)
    {
        if (!Sse.IsSupported) return;
        byte* p = (byte*)Row(matrix, row);
        Sse.Prefetch0(p);
        Sse.Prefetch0(p + _stride[matrix] - 1);
    }

    /// <summary>
    /// Copies the row into <paramref name="destination"/> (its length is the matrix's dim) if it is loaded and no writer
    /// holds it. On a miss, <paramref name="token"/> is what <see cref="TryFill"/> needs to store the row read from
    /// FASTER after this call (-1: a writer holds the row, do not fill).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryRead(int matrix, long row, Span<float> destination, out long version, out long token)
    {
        long* header = Row(matrix, row);
        long seq = Volatile.Read(ref header[0]);
        token = (seq & 1) == 0 ? seq : -1;
        version = header[1];
        if (token < 0 || version < 0)
        {
            version = -1;
            return false;
        }
        new ReadOnlySpan<float>(header + 2, destination.Length).CopyTo(destination);
        // The copy must complete before seq is read again (a full fence; x64 keeps load order, the JIT need not).
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref header[0]) == seq) return true;
        token = -1;
        version = -1;
        return false;
    }

    /// <summary>
    /// Stores a row just read from FASTER if no write touched it since <see cref="TryRead"/> gave
    /// <paramref name="token"/> and the stored copy is not newer.
    /// </summary>
    public bool TryFill(int matrix, long row, long token, ReadOnlySpan<float> values, long version)
    {
        if (token < 0) return false;
        long* header = Row(matrix, row);
        if (Interlocked.CompareExchange(ref header[0], token + 1, token) != token) return false;
        bool write = header[1] <= version;
        if (write) Write(header, values, version);
        Volatile.Write(ref header[0], token + 2);
        return write;
    }

    /// <summary>Starts a store write of the row: readers miss (and read FASTER) until <see cref="EndUpdate"/>.</summary>
    public long BeginUpdate(int matrix, long row)
    {
        long* header = Row(matrix, row);
        var spin = new SpinWait();
        while (true)
        {
            long seq = Volatile.Read(ref header[0]);
            if ((seq & 1) == 0 && Interlocked.CompareExchange(ref header[0], seq + 1, seq) == seq) return seq;
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>
    /// Ends a write begun with <see cref="BeginUpdate"/>: the row becomes <paramref name="values"/> (what FASTER now
    /// holds, decoded); an empty span (the FASTER write failed) unloads the row, so reads go to FASTER.
    /// </summary>
    public void EndUpdate(int matrix, long row, long seq, ReadOnlySpan<float> values, long version)
    {
        long* header = Row(matrix, row);
        if (values.IsEmpty) header[1] = -1;
        else Write(header, values, version);
        Volatile.Write(ref header[0], seq + 2);
    }

    /// <summary>A bulk load's write: unconditional, like the FASTER upsert it mirrors.</summary>
    internal void Load(int matrix, long row, ReadOnlySpan<float> values, long version)
    {
        long seq = BeginUpdate(matrix, row);
        EndUpdate(matrix, row, seq, values, version);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Write(long* header, ReadOnlySpan<float> values, long version)
    {
        header[1] = version;
        values.CopyTo(new Span<float>(header + 2, values.Length));
    }

    public void Dispose()
    {
        for (int i = 0; i < _base.Length; i++)
        {
            if (_base[i] == null) continue;
            NativeMemory.AlignedFree(_base[i]);
            _base[i] = null;
        }
    }
}
