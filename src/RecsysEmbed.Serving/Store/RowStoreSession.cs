using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FASTER.core;
using RecsysEmbed.Core.Export;

namespace RecsysEmbed.Serving.Store;

/// <summary>One thread's handle on a <see cref="FasterRowStore"/>: reads decode into caller spans, writes encode from them.</summary>
public sealed unsafe class RowStoreSession : IDisposable
{
    private readonly FasterRowStore _store;
    private readonly ClientSession<long, SpanByte, SpanByte, RowOutput, Empty, IFunctions<long, SpanByte, SpanByte, RowOutput, Empty>> _session;
    private byte[] _value = new byte[256];

    internal RowStoreSession(FasterRowStore store, ClientSession<long, SpanByte, SpanByte, RowOutput, Empty, IFunctions<long, SpanByte, SpanByte, RowOutput, Empty>> session)
    {
        _store = store;
        _session = session;
    }

    /// <summary>
    /// Reads rows (matrix, row) into <paramref name="values"/>, packed in order (each its matrix's Dim floats), and
    /// their versions; a row the store does not hold reads as zeros with version -1. Disk reads are waited for.
    /// </summary>
    public void Read(ReadOnlySpan<int> matrices, ReadOnlySpan<long> rows, Span<float> values, Span<long> versions)
    {
        if (_store.Resident is { } resident) ReadResident(resident, matrices, rows, values, versions);
        else if (_store.Cache is { } cache) ReadCached(cache, matrices, rows, values, versions);
        else ReadStore(matrices, rows, values, versions);
    }

    /// <summary>Hot-row cache hits and misses of this session (rows).</summary>
    public long CacheHits { get; private set; }
    public long CacheMisses { get; private set; }

    // Misses of the current batch: position in the batch, float offset, the cache's fill token.
    private int[] _missAt = new int[64];
    private int[] _missOffset = new int[64];
    private long[] _missToken = new long[64];
    private float[] _decoded = new float[64];
    private ulong _random = (ulong)Environment.TickCount64 | 1;
    /// <summary>A miss whose bucket is full replaces a cached row with probability 1 / this (frequency-biased admission).</summary>
    internal const int EvictOneIn = 4;

    /// <summary>
    /// Cache first; the misses are read from FASTER in one batch (one epoch entry, none when every row hits), then
    /// cached with the token taken before the read, so a row an update overtook is not cached.
    /// </summary>
    private void ReadCached(HotRowCache cache, ReadOnlySpan<int> matrices, ReadOnlySpan<long> rows, Span<float> values, Span<long> versions)
    {
        var catalog = _store.Catalog;
        int misses = 0, offset = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            var m = catalog[matrices[i]];
            long key = FasterRowStore.Key(m.Id, rows[i]);
            if (cache.TryRead(key, values.Slice(offset, m.Dim), out versions[i], out long token))
            {
                offset += m.Dim;
                continue;
            }
            AddMiss(misses++, i, offset, token);
            offset += m.Dim;
        }
        CacheHits += rows.Length - misses;
        CacheMisses += misses;
        if (misses == 0) return;
        ReadMisses(misses, matrices, rows, values, versions);
        for (int j = 0; j < misses; j++)
        {
            int i = _missAt[j];
            if (versions[i] < 0) continue;
            var m = catalog[matrices[i]];
            // Admission: a fill may evict with probability 1/EvictOneIn (this session's xorshift; no shared state).
            _random ^= _random << 13;
            _random ^= _random >> 7;
            _random ^= _random << 17;
            bool mayEvict = _random % EvictOneIn == 0;
            cache.TryFill(FasterRowStore.Key(m.Id, rows[i]), _missToken[j], values.Slice(_missOffset[j], m.Dim), versions[i], mayEvict);
        }
    }

    private void AddMiss(int index, int position, int offset, long token)
    {
        if (index == _missAt.Length)
        {
            Array.Resize(ref _missAt, index * 2);
            Array.Resize(ref _missOffset, index * 2);
            Array.Resize(ref _missToken, index * 2);
        }
        _missAt[index] = position;
        _missOffset[index] = offset;
        _missToken[index] = token;
    }

    /// <summary>Reads the batch's first <paramref name="misses"/> misses from FASTER in one epoch entry; absent rows read as zeros, version -1.</summary>
    private void ReadMisses(int misses, ReadOnlySpan<int> matrices, ReadOnlySpan<long> rows, Span<float> values, Span<long> versions)
    {
        var catalog = _store.Catalog;
        var context = _session.UnsafeContext;
        context.BeginUnsafe();
        try
        {
            fixed (float* v = values)
            fixed (long* ver = versions)
            {
                bool pending = false;
                for (int j = 0; j < misses; j++)
                {
                    int i = _missAt[j];
                    var m = catalog[matrices[i]];
                    var output = new RowOutput { Destination = v + _missOffset[j], Version = ver + i, Dim = m.Dim, Format = m.Format };
                    ver[i] = -1;
                    long key = FasterRowStore.Key(m.Id, rows[i]);
                    var status = context.Read(ref key, ref output);
                    if (status.IsPending) pending = true;
                    else if (!status.Found) new Span<float>(v + _missOffset[j], m.Dim).Clear();
                }
                if (pending)
                {
                    context.CompletePending(wait: true);
                    for (int j = 0; j < misses; j++)
                    {
                        int i = _missAt[j];
                        if (ver[i] < 0) new Span<float>(v + _missOffset[j], catalog[matrices[i]].Dim).Clear();
                    }
                }
            }
        }
        finally
        {
            context.EndUnsafe();
        }
    }

    /// <summary>
    /// The resident tier first (every loaded row hits unless a writer holds it); misses are read from FASTER in one
    /// batch and stored back with the token taken before the read.
    /// </summary>
    private void ReadResident(ResidentRows resident, ReadOnlySpan<int> matrices, ReadOnlySpan<long> rows, Span<float> values, Span<long> versions)
    {
        var catalog = _store.Catalog;
        for (int i = 0; i < rows.Length; i++) resident.Prefetch(matrices[i], rows[i]);
        int misses = 0, offset = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            var m = catalog[matrices[i]];
            if (!resident.TryRead(m.Id, rows[i], values.Slice(offset, m.Dim), out versions[i], out long token)) AddMiss(misses++, i, offset, token);
            offset += m.Dim;
        }
        CacheHits += rows.Length - misses;
        CacheMisses += misses;
        if (misses == 0) return;
        ReadMisses(misses, matrices, rows, values, versions);
        for (int j = 0; j < misses; j++)
        {
            int i = _missAt[j];
            if (versions[i] >= 0) resident.TryFill(matrices[i], rows[i], _missToken[j], values.Slice(_missOffset[j], catalog[matrices[i]].Dim), versions[i]);
        }
    }

    /// <summary>FASTER alone (no cache), as <see cref="Read"/> describes.</summary>
    private void ReadStore(ReadOnlySpan<int> matrices, ReadOnlySpan<long> rows, Span<float> values, Span<long> versions)
    {
        var catalog = _store.Catalog;
        // One epoch entry for the whole batch instead of one per read (FASTER's unsafe context).
        var context = _session.UnsafeContext;
        context.BeginUnsafe();
        try
        {
            fixed (float* v = values)
            fixed (long* ver = versions)
            {
                bool pending = false;
                long offset = 0;
                for (int i = 0; i < rows.Length; i++)
                {
                    var m = catalog[matrices[i]];
                    var output = new RowOutput { Destination = v + offset, Version = ver + i, Dim = m.Dim, Format = m.Format };
                    ver[i] = -1;
                    long key = FasterRowStore.Key(m.Id, rows[i]);
                    var status = context.Read(ref key, ref output);
                    if (status.IsPending) pending = true;
                    else if (!status.Found) new Span<float>(v + offset, m.Dim).Clear();
                    offset += m.Dim;
                }
                if (pending)
                {
                    context.CompletePending(wait: true);
                    offset = 0;
                    for (int i = 0; i < rows.Length; i++)
                    {
                        int dim = catalog[matrices[i]].Dim;
                        if (ver[i] < 0) new Span<float>(v + offset, dim).Clear();
                        offset += dim;
                    }
                }
            }
        }
        finally
        {
            context.EndUnsafe();
        }
    }

    /// <summary>One row's values; false (and zeros) when the store does not hold it.</summary>
    public bool TryRead(int matrix, long row, Span<float> values, out long version)
    {
        Span<long> v = stackalloc long[1];
        Read([matrix], [row], values, v);
        version = v[0];
        return version >= 0;
    }

    /// <summary>One row straight from FASTER, past the cache (the write path's version check reads the source of truth).</summary>
    private bool TryReadStore(int matrix, long row, Span<float> values, out long version)
    {
        Span<long> v = stackalloc long[1];
        ReadStore([matrix], [row], values, v);
        version = v[0];
        return version >= 0;
    }

    /// <summary>Writes a row unconditionally.</summary>
    public void Upsert(int matrix, long row, long version, ReadOnlySpan<float> values)
    {
        var m = _store.Catalog[matrix];
        CheckRow(m, row, values.Length);
        int bytes = m.ValueBytes;
        if (_value.Length < bytes) _value = new byte[bytes];
        BinaryPrimitives.WriteInt64LittleEndian(_value, version);
        RowCodec.Encode(m.Format, values, _value.AsSpan(sizeof(long)));
        fixed (byte* p = _value)
        {
            var value = SpanByte.FromPointer(p, bytes);
            long key = FasterRowStore.Key(matrix, row);
            var resident = _store.Resident;
            var cache = _store.Cache;
            if (resident is null && cache is null)
            {
                _session.Upsert(ref key, ref value);
                return;
            }
            // The row (resident tier) or its cache bucket is held across the FASTER write, then gets the row as FASTER
            // decodes it (bit for bit, also for fp16/int8); if the write throws, the copy is dropped.
            long seq = resident?.BeginUpdate(matrix, row) ?? cache!.BeginUpdate(key);
            bool written = false;
            try
            {
                _session.Upsert(ref key, ref value);
                written = true;
            }
            finally
            {
                if (_decoded.Length < m.Dim) _decoded = new float[m.Dim];
                var decoded = _decoded.AsSpan(0, m.Dim);
                if (written) RowCodec.Decode(m.Format, _value.AsSpan(sizeof(long), bytes - sizeof(long)), decoded);
                if (resident is not null) resident.EndUpdate(matrix, row, seq, written ? decoded : default, version);
                else cache!.EndUpdate(key, seq, written ? decoded : default, version);
            }
        }
    }

    /// <summary>
    /// Writes the row only if <paramref name="version"/> is at least the stored one, so a row's version never goes
    /// backwards and re-delivered updates change nothing. Returns whether it wrote. Callers serialise writers.
    /// </summary>
    public bool ApplyIfNotOlder(int matrix, long row, long version, ReadOnlySpan<float> values, Span<float> scratch)
    {
        var m = _store.Catalog[matrix];
        CheckRow(m, row, values.Length);
        if (TryReadStore(matrix, row, scratch[..m.Dim], out long stored) && stored > version) return false;
        Upsert(matrix, row, version, values);
        return true;
    }

    internal void LoadRows(StoredMatrix m, long start, long end, Stream stream, long version)
    {
        int rowBytes = m.Dim * sizeof(float);
        int chunkRows = Math.Max(1, (1 << 20) / rowBytes);
        var buffer = new byte[chunkRows * rowBytes];
        int valueBytes = m.ValueBytes;
        var value = new byte[valueBytes];
        BinaryPrimitives.WriteInt64LittleEndian(value, version);
        var context = _session.UnsafeContext;
        var resident = _store.Resident;
        var decoded = resident is null ? null : new float[m.Dim];
        fixed (byte* p = value)
        {
            var spanByte = SpanByte.FromPointer(p, valueBytes);
            for (long r = start; r < end; r += chunkRows)
            {
                int n = (int)Math.Min(chunkRows, end - r);
                stream.ReadExactly(buffer, 0, n * rowBytes);
                var floats = MemoryMarshal.Cast<byte, float>(buffer.AsSpan(0, n * rowBytes));
                // One epoch entry per chunk of rows rather than one per upsert.
                context.BeginUnsafe();
                try
                {
                    for (int i = 0; i < n; i++)
                    {
                        RowCodec.Encode(m.Format, floats.Slice(i * m.Dim, m.Dim), value.AsSpan(sizeof(long)));
                        long key = FasterRowStore.Key(m.Id, r + i);
                        context.Upsert(ref key, ref spanByte);
                        if (resident is null) continue;
                        // The tier holds what FASTER now decodes (bit-identical also for fp16/int8).
                        RowCodec.Decode(m.Format, value.AsSpan(sizeof(long)), decoded);
                        resident.Load(m.Id, r + i, decoded, version);
                    }
                }
                finally
                {
                    context.EndUnsafe();
                }
            }
        }
    }

    private static void CheckRow(StoredMatrix m, long row, int length)
    {
        if ((ulong)row >= (ulong)m.Rows)
            throw new ArgumentOutOfRangeException(nameof(row), row, $"row {row} is outside matrix '{m.Name}' ({m.Rows} rows).");
        if (length != m.Dim)
            throw new ArgumentException($"matrix '{m.Name}' rows have {m.Dim} values, got {length}.", nameof(length));
    }

    internal void UpsertBlob(long key, byte[] blob)
    {
        fixed (byte* p = blob)
        {
            var value = SpanByte.FromPointer(p, blob.Length);
            _session.Upsert(ref key, ref value);
        }
    }

    internal byte[]? ReadBlob(long key)
    {
        var output = new RowOutput();
        var status = _session.Read(ref key, ref output);
        if (status.IsPending)
        {
            _session.CompletePendingWithOutputs(out var completed, wait: true);
            using (completed)
            {
                while (completed.Next())
                {
                    if (completed.Current.Key == key && completed.Current.Status.Found) return completed.Current.Output.Blob;
                }
            }
            return null;
        }
        return status.Found ? output.Blob : null;
    }

    public void Dispose() => _session.Dispose();
}
