using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RecsysEmbed.Serving.Store;

/// <summary>
/// A fixed-size cache of decoded fp32 rows in front of FASTER, keyed by the store key (matrix | row). Set-associative,
/// in native memory, allocation-free after construction. One bucket:
/// <code>
///   header (64 B):  i64 seq | i64 key[4] (-1 = empty) | i64 hand | pad
///   way w (x4):     i64 version | f32 values[Dim]            (Dim = the widest matrix; stride rounded up to 8 B)
/// </code>
/// Concurrency is a seqlock per bucket: writers make seq odd with a CAS, write, then make it even again; readers read
/// seq, the row, then seq again and treat any change (or an odd seq) as a miss, so a reader never returns a torn row
/// and never blocks. Readers write nothing on a hit.
/// <para>
/// Coherence with the store's writes (the caller's protocol, as <see cref="RowStoreSession"/> follows it):
/// a store write takes the key's bucket (<see cref="BeginUpdate"/>), writes FASTER, then overwrites the cached row if
/// its version is not older, else drops it, and releases the bucket (<see cref="EndUpdate"/>). A fill after a FASTER
/// read passes the seq observed *before* that read (<see cref="TryRead"/>'s token) and lands only if the bucket has not
/// changed since, so a row read before an update can never be cached after it.
/// </para>
/// </summary>
public sealed unsafe class HotRowCache : IDisposable
{
    public const int Ways = 4;
    private const int HeaderBytes = 64;
    private const long EmptyKey = -1;

    private byte* _memory;
    private readonly long _buckets;
    private readonly int _wayBytes;
    private readonly int _bucketBytes;

    /// <param name="budgetBytes">Memory for the table; rounded down to whole buckets (at least 2).</param>
    /// <param name="dim">Widest row (floats) it holds; narrower rows use the start of a way.</param>
    public HotRowCache(long budgetBytes, int dim)
    {
        if (dim < 1) throw new ArgumentOutOfRangeException(nameof(dim), dim, "rows must have at least one value.");
        Dim = dim;
        _wayBytes = (sizeof(long) + dim * sizeof(float) + 7) & ~7;
        _bucketBytes = (HeaderBytes + Ways * _wayBytes + 63) & ~63;
        long buckets = budgetBytes / _bucketBytes;
        if (buckets < 2)
            throw new ArgumentOutOfRangeException(nameof(budgetBytes), budgetBytes, $"--hot-cache: {budgetBytes} bytes is below the {2 * _bucketBytes} bytes of the smallest cache for rows of {dim} floats.");
        _buckets = buckets;
        Bytes = buckets * _bucketBytes;
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)Bytes, 64);
        NativeMemory.Clear(_memory, (nuint)Bytes);
        for (long b = 0; b < buckets; b++)
        {
            long* header = (long*)(_memory + b * _bucketBytes);
            for (int w = 0; w < Ways; w++) header[1 + w] = EmptyKey;
        }
    }

    /// <summary>Widest row the cache holds.</summary>
    public int Dim { get; }
    /// <summary>Memory the table takes.</summary>
    public long Bytes { get; }
    /// <summary>Rows it can hold.</summary>
    public long Capacity => _buckets * Ways;

    /// <summary>Bytes a cache needs per row of <paramref name="dim"/> floats (header share included).</summary>
    public static long BytesPerRow(int dim) => ((HeaderBytes + Ways * ((sizeof(long) + dim * sizeof(float) + 7) & ~7) + 63) & ~63) / Ways;

    private long* Bucket(long key)
    {
        // Fibonacci hashing, then the high half of h * buckets maps it onto any bucket count (no power of two needed).
        ulong h = (ulong)key * 0x9E3779B97F4A7C15UL;
        ulong index = Math.BigMul(h, (ulong)_buckets, out _);
        return (long*)(_memory + (long)index * _bucketBytes);
    }

    private byte* Way(long* bucket, int way) => (byte*)bucket + HeaderBytes + way * _wayBytes;

    /// <summary>
    /// Copies the cached row of <paramref name="key"/> into <paramref name="destination"/> (its length is the row's dim).
    /// On a miss, <paramref name="token"/> is what <see cref="TryFill"/> needs to cache the row read from the store
    /// after this call (-1 when the bucket is being written: do not fill).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryRead(long key, Span<float> destination, out long version, out long token)
    {
        long* bucket = Bucket(key);
        token = ReadBegin(bucket);
        version = -1;
        if (token < 0 || !ReadCopy(bucket, key, destination, out long v)) return false;
        if (!ReadValidate(bucket, token))
        {
            token = -1;
            return false;
        }
        version = v;
        return true;
    }

    // TryRead's three steps, apart so a test can put a write between them.
    internal long ReadBegin(long key) => ReadBegin(Bucket(key));
    internal bool ReadCopy(long key, Span<float> destination, out long version) => ReadCopy(Bucket(key), key, destination, out version);
    internal bool ReadValidate(long key, long seq) => ReadValidate(Bucket(key), seq);

    /// <summary>The bucket's seq if no writer holds it, else -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long ReadBegin(long* bucket)
    {
        long seq = Volatile.Read(ref bucket[0]);
        return (seq & 1) == 0 ? seq : -1;
    }

    /// <summary>Copies the key's row if the bucket holds it (unvalidated: may be torn until <see cref="ReadValidate(long*, long)"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool ReadCopy(long* bucket, long key, Span<float> destination, out long version)
    {
        for (int w = 0; w < Ways; w++)
        {
            if (bucket[1 + w] != key) continue;
            byte* way = Way(bucket, w);
            version = *(long*)way;
            new ReadOnlySpan<float>(way + sizeof(long), destination.Length).CopyTo(destination);
            return true;
        }
        version = -1;
        return false;
    }

    /// <summary>True when no write touched the bucket since the read began with <paramref name="seq"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool ReadValidate(long* bucket, long seq)
    {
        // The copy must complete before seq is re-read (a full fence; x64 keeps load order, the JIT need not).
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref bucket[0]) == seq;
    }

    /// <summary>
    /// Caches a row just read from the store, if its bucket has not changed since <see cref="TryRead"/> gave
    /// <paramref name="token"/> (else an update may have come in between: the read may be stale; skip). Replaces an
    /// empty way, else (only when <paramref name="mayEvict"/>) the bucket's ways in turn. Callers admit evicting fills
    /// with a small probability, so a row must miss a few times before it displaces a cached one: one-off rows of the
    /// long tail rarely push out hot ones.
    /// </summary>
    public bool TryFill(long key, long token, ReadOnlySpan<float> values, long version, bool mayEvict = true)
    {
        if (token < 0 || values.Length > Dim) return false;
        long* bucket = Bucket(key);
        if (Interlocked.CompareExchange(ref bucket[0], token + 1, token) != token) return false;
        int way = -1;
        for (int w = 0; w < Ways && way < 0; w++) if (bucket[1 + w] == key) way = w;
        if (way >= 0 && *(long*)Way(bucket, way) > version)
        {
            Volatile.Write(ref bucket[0], token + 2);
            return false;
        }
        for (int w = 0; w < Ways && way < 0; w++) if (bucket[1 + w] == EmptyKey) way = w;
        if (way < 0 && !mayEvict)
        {
            Volatile.Write(ref bucket[0], token + 2);
            return false;
        }
        if (way < 0) way = (int)(bucket[1 + Ways]++ & (Ways - 1));
        Write(bucket, way, key, values, version);
        Volatile.Write(ref bucket[0], token + 2);
        return true;
    }

    /// <summary>
    /// Starts a store write of <paramref name="key"/>: takes its bucket (readers of the bucket miss and read FASTER,
    /// fills are refused) until <see cref="EndUpdate"/>. Write FASTER in between; holding the bucket across the FASTER
    /// write means no reader can see the new row in FASTER and then the old one in the cache.
    /// </summary>
    public long BeginUpdate(long key) => Lock(Bucket(key));

    /// <summary>
    /// Ends a store write begun with <see cref="BeginUpdate"/>: a cached row of the key becomes
    /// <paramref name="values"/> when <paramref name="version"/> is not older than it, else (or when the write failed,
    /// <paramref name="values"/> empty) the entry is dropped. Keys not cached stay uncached.
    /// </summary>
    public void EndUpdate(long key, long seq, ReadOnlySpan<float> values, long version)
    {
        long* bucket = Bucket(key);
        for (int w = 0; w < Ways; w++)
        {
            if (bucket[1 + w] != key) continue;
            if (!values.IsEmpty && values.Length <= Dim && *(long*)Way(bucket, w) <= version) Write(bucket, w, key, values, version);
            else bucket[1 + w] = EmptyKey;
            break;
        }
        Volatile.Write(ref bucket[0], seq + 2);
    }

    /// <summary>Drops every entry (after a bulk load rewrote the store underneath); in-flight fills are refused.</summary>
    public void Clear()
    {
        for (long b = 0; b < _buckets; b++)
        {
            long* bucket = (long*)(_memory + b * _bucketBytes);
            long seq = Lock(bucket);
            for (int w = 0; w < Ways; w++) bucket[1 + w] = EmptyKey;
            Volatile.Write(ref bucket[0], seq + 2);
        }
    }

    /// <summary>Takes a bucket's write lock (seq even -> odd); returns the even seq it replaced.</summary>
    private static long Lock(long* bucket)
    {
        var spin = new SpinWait();
        while (true)
        {
            long seq = Volatile.Read(ref bucket[0]);
            if ((seq & 1) == 0 && Interlocked.CompareExchange(ref bucket[0], seq + 1, seq) == seq) return seq;
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    private void Write(long* bucket, int way, long key, ReadOnlySpan<float> values, long version)
    {
        byte* w = Way(bucket, way);
        bucket[1 + way] = key;
        *(long*)w = version;
        values.CopyTo(new Span<float>(w + sizeof(long), values.Length));
    }

    public void Dispose()
    {
        if (_memory == null) return;
        NativeMemory.AlignedFree(_memory);
        _memory = null;
    }
}
