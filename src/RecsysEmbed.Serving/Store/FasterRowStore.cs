using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using FASTER.core;
using RecsysEmbed.Training.Checkpoints;

namespace RecsysEmbed.Serving.Store;

/// <summary>What a bulk load did: rows written and how fast.</summary>
public readonly record struct BulkLoadResult(long Rows, double Seconds)
{
    public double RowsPerSecond => Rows / Math.Max(Seconds, 1e-9);
}

/// <summary>
/// Embedding rows in Microsoft.FASTER's hybrid log. Key and value:
/// <code>
///   key   i64:  matrix id (16 bits, &lt; 2^15) | row (47 bits)            (meta records use negative keys)
///   value     :  i64 version | row encoded as the matrix's RowFormat      (fixed size per matrix, so updates are in place)
/// </code>
/// The in-memory part of the log is sized from the memory budget; older pages spill to the log file on the device
/// the user names. A checkpoint (FASTER fold-over: index + log) carries the applied update offsets (and the vocabulary
/// entries learned from the topic) as records written just before it, so recovery restores rows, offsets and those
/// entries from one consistent cut.
/// Thread-safety: the store is shared; each thread uses its own <see cref="RowStoreSession"/>.
/// </summary>
public sealed class FasterRowStore : IDisposable
{
    public const int MaxMatrices = 1 << 15;
    internal const int RowBits = 47;
    internal const long MaxRow = (1L << RowBits) - 1;
    internal const long OffsetsKey = -1;
    internal const long CatalogKey = -2;
    internal const long DenseKey = -3;
    internal const long VocabularyKey = -4;
    /// <summary>Vocabulary chunk c lives at VocabularyChunkKeys - c (far below the other meta keys).</summary>
    internal const long VocabularyChunkKeys = -(1L << 20);
    /// <summary>Bytes per vocabulary chunk: half of FASTER's smallest page here (64 KiB), so any chunk fits a page.</summary>
    internal const int VocabularyChunkBytes = 32 << 10;

    private readonly FasterKV<long, SpanByte> _kv;
    private readonly IDevice _log;
    private readonly RowStoreFunctions _functions = new();
    private readonly System.Collections.Concurrent.ConcurrentBag<RowStoreSession> _pool = new();

    private FasterRowStore(RowCatalog catalog, RowStoreOptions options, FasterKV<long, SpanByte> kv, IDevice log)
    {
        Catalog = catalog;
        Options = options;
        _kv = kv;
        _log = log;
    }

    public RowCatalog Catalog { get; }
    public RowStoreOptions Options { get; }
    /// <summary>True when the store came back from a checkpoint instead of starting empty.</summary>
    public bool Recovered { get; private set; }
    /// <summary>Update offsets stored with the checkpoint recovered from ("topic/partition" -> next offset to read).</summary>
    public IReadOnlyDictionary<string, long> RecoveredOffsets { get; private set; } = new Dictionary<string, long>();
    /// <summary>Bytes of the hybrid log held in memory (the budget rounded down to a power of two).</summary>
    public long LogMemoryBytes { get; private set; }
    public long IndexBytes { get; private set; }
    public long EntryCount => _kv.EntryCount;
    /// <summary>The hot-row cache in front of FASTER (null when <see cref="RowStoreOptions.HotCacheBytes"/> is 0).</summary>
    public HotRowCache? Cache { get; private set; }
    /// <summary>The in-memory tier holding every row decoded (null unless <see cref="RowStoreOptions.Resident"/>).</summary>
    public ResidentRows? Resident { get; private set; }

    private readonly System.Collections.Concurrent.ConcurrentBag<RowStoreSession> _all = new();

    /// <summary>Cache hits and misses over every session so far (read without synchronisation: a statistic).</summary>
    public (long Hits, long Misses) CacheCounts()
    {
        long hits = 0, misses = 0;
        foreach (var s in _all)
        {
            hits += s.CacheHits;
            misses += s.CacheMisses;
        }
        return (hits, misses);
    }

    /// <summary>Opens the store: recovers the latest checkpoint in the checkpoint directory if there is one, else starts empty.</summary>
    public static FasterRowStore Open(RowCatalog catalog, RowStoreOptions options)
    {
        options.Validate();
        Directory.CreateDirectory(options.CheckpointDirectory);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.LogDevicePath))!);
        bool hasCheckpoint = HasCheckpoint(options.CheckpointDirectory);
        if (!hasCheckpoint) DeleteLogSegments(options.LogDevicePath);

        long memory = FloorPow2(options.MemoryBudgetBytes);
        long page = Math.Clamp(FloorPow2(memory / 8), 1 << 16, 1 << 25);
        long index = Math.Clamp(CeilPow2(Math.Max(options.ExpectedRows, 1024) * 16), 1 << 20, 1L << 30);
        var log = Devices.CreateLogDevice(options.LogDevicePath, preallocateFile: false, deleteOnClose: false, recoverDevice: hasCheckpoint);
        var settings = new FasterKVSettings<long, SpanByte>
        {
            IndexSize = index,
            LogDevice = log,
            MemorySize = memory,
            PageSize = page,
            SegmentSize = Math.Max(1L << 30, page),
            CheckpointDir = options.CheckpointDirectory,
            RemoveOutdatedCheckpoints = true,
            ConcurrencyControlMode = options.ConcurrencyControl,
        };
        var kv = new FasterKV<long, SpanByte>(settings);
        var store = new FasterRowStore(catalog, options, kv, log) { LogMemoryBytes = memory, IndexBytes = index };
        try
        {
            if (options.HotCacheBytes > 0) store.Cache = new HotRowCache(options.HotCacheBytes, Math.Max(1, catalog.MaxDim));
            if (options.Resident)
            {
                long need = ResidentRows.BytesFor(catalog), have = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
                if (need > have / 2)
                    throw new ArgumentException($"--resident: the model's {catalog.TotalRows:N0} rows take {need:N0} bytes decoded, more than half of the {have:N0} bytes of memory available; serve without --resident (FASTER spills to disk) or use --hot-cache SIZE.", nameof(options));
                store.Resident = new ResidentRows(catalog);
            }
            if (hasCheckpoint)
            {
                kv.Recover();
                store.Recovered = true;
                byte[] stored = store.ReadMeta(CatalogKey) ?? throw new InvalidDataException($"{options.CheckpointDirectory}: the checkpoint holds no catalog record.");
                catalog.CheckMatches(stored, options.CheckpointDirectory);
                byte[]? offsets = store.ReadMeta(OffsetsKey);
                store.RecoveredOffsets = offsets is null ? new Dictionary<string, long>() : JsonSerializer.Deserialize<Dictionary<string, long>>(offsets)!;
                store.WarmResident();
            }
            else
            {
                store.WriteMeta(CatalogKey, catalog.Serialize());
            }
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private static bool HasCheckpoint(string dir)
    {
        string cpr = Path.Combine(dir, "cpr-checkpoints");
        return Directory.Exists(cpr) && Directory.EnumerateDirectories(cpr).Any();
    }

    private static void DeleteLogSegments(string logPath)
    {
        string full = Path.GetFullPath(logPath);
        string dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) return;
        foreach (var f in Directory.EnumerateFiles(dir, Path.GetFileName(full) + ".*")) File.Delete(f);
    }

    private static long FloorPow2(long v) => v <= 1 ? 1 : 1L << (63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)v));
    private static long CeilPow2(long v) => (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)Math.Max(v, 1));

    internal static long Key(int matrix, long row) => ((long)matrix << RowBits) | row;

    /// <summary>A session for one thread at a time; return it with <see cref="Return"/> or dispose it.</summary>
    public RowStoreSession RentSession()
    {
        if (_pool.TryTake(out var s)) return s;
        s = new RowStoreSession(this, _kv.NewSession<SpanByte, RowOutput, Empty>(_functions));
        _all.Add(s);
        return s;
    }

    public void Return(RowStoreSession session) => _pool.Add(session);

    /// <summary>
    /// Writes every matrix of a training checkpoint into the store, rows split across <paramref name="threads"/>
    /// (each reads its own range of the entry file). Rows get <paramref name="version"/>.
    /// </summary>
    public BulkLoadResult BulkLoad(CheckpointReader reader, long version, int threads = 2)
    {
        var clock = Stopwatch.StartNew();
        long total = 0;
        foreach (var m in Catalog.Matrices)
        {
            string entry = "tables/" + m.Name;
            if (!reader.Contains(entry)) throw new InvalidDataException($"{reader.Path}: checkpoint has no entry '{entry}' for matrix '{m.Name}' of table '{m.Table}'.");
            var meta = reader.Entry(entry).Metadata;
            long rows = meta["rows"]!.GetValue<long>();
            int dim = meta["dim"]!.GetValue<int>();
            if (rows != m.Rows || dim != m.Dim)
                throw new InvalidDataException($"{reader.Path}: entry '{entry}' is {rows} x {dim}, the model's '{m.Name}' is {m.Rows} x {m.Dim}.");
            int parts = (int)Math.Clamp(rows / 65536, 1, Math.Max(1, threads));
            Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, p =>
            {
                long start = rows * p / parts, end = rows * (p + 1) / parts;
                using var stream = reader.OpenRead(entry);
                stream.Seek(start * dim * sizeof(float), SeekOrigin.Begin);
                var session = RentSession();
                try
                {
                    session.LoadRows(m, start, end, stream, version);
                }
                finally
                {
                    Return(session);
                }
            });
            total += rows;
        }
        // Rows were written under the cache (not through it): drop what it held; in-flight fills are refused.
        Cache?.Clear();
        return new BulkLoadResult(total, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Fills the resident tier from FASTER (after recovery), a batch of rows at a time through the read path.</summary>
    private void WarmResident()
    {
        if (Resident is null) return;
        const int Batch = 4096;
        var session = RentSession();
        try
        {
            foreach (var m in Catalog.Matrices)
            {
                var matrices = new int[Batch];
                Array.Fill(matrices, m.Id);
                var rows = new long[Batch];
                var values = new float[Batch * m.Dim];
                var versions = new long[Batch];
                for (long start = 0; start < m.Rows; start += Batch)
                {
                    int n = (int)Math.Min(Batch, m.Rows - start);
                    for (int i = 0; i < n; i++) rows[i] = start + i;
                    // A miss of the resident read path goes to FASTER and stores what it finds back into the tier.
                    session.Read(matrices.AsSpan(0, n), rows.AsSpan(0, n), values.AsSpan(0, n * m.Dim), versions.AsSpan(0, n));
                }
            }
        }
        finally
        {
            Return(session);
        }
    }

    /// <summary>
    /// Writes the offsets record, then a FASTER checkpoint of index and log. The caller must not apply updates
    /// between the two (the applier calls this from its own thread); reads may go on.
    /// </summary>
    public async Task<Guid> CheckpointAsync(IReadOnlyDictionary<string, long> appliedOffsets, CancellationToken cancel = default)
    {
        WriteMeta(OffsetsKey, JsonSerializer.SerializeToUtf8Bytes(appliedOffsets));
        var (ok, token) = await _kv.TakeFullCheckpointAsync(CheckpointType.FoldOver, cancel).ConfigureAwait(false);
        if (!ok) throw new InvalidOperationException("FASTER refused the checkpoint (another one is in progress).");
        await _kv.CompleteCheckpointAsync(cancel).ConfigureAwait(false);
        return token;
    }

    /// <summary>Keeps the newest applied dense model (i64 version | state dict) so a recovered store serves it again.</summary>
    public void SaveDense(long version, ReadOnlySpan<byte> stateDict)
    {
        var blob = new byte[sizeof(long) + stateDict.Length];
        BinaryPrimitives.WriteInt64LittleEndian(blob, version);
        stateDict.CopyTo(blob.AsSpan(sizeof(long)));
        WriteMeta(DenseKey, blob);
    }

    /// <summary>The dense model saved with <see cref="SaveDense"/>, if any.</summary>
    public (long Version, byte[] StateDict)? LoadDense()
    {
        var blob = ReadMeta(DenseKey);
        return blob is null ? null : (BinaryPrimitives.ReadInt64LittleEndian(blob), blob[sizeof(long)..]);
    }

    /// <summary>
    /// Keeps the vocabulary entries learned from the update topic (<see cref="Updates.LearnedVocabulary"/>'s bytes), so
    /// the next checkpoint carries them with the offsets they belong to. Stored as 32 KiB chunks plus a header record
    /// (i32 chunks | i32 bytes) written last; the caller must not checkpoint meanwhile (the applier holds its lock).
    /// </summary>
    public void SaveVocabulary(byte[] blob)
    {
        int chunks = (blob.Length + VocabularyChunkBytes - 1) / VocabularyChunkBytes;
        for (int c = 0; c < chunks; c++)
        {
            int start = c * VocabularyChunkBytes;
            WriteMeta(VocabularyChunkKeys - c, blob[start..Math.Min(blob.Length, start + VocabularyChunkBytes)]);
        }
        var header = new byte[2 * sizeof(int)];
        BinaryPrimitives.WriteInt32LittleEndian(header, chunks);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(sizeof(int)), blob.Length);
        WriteMeta(VocabularyKey, header);
    }

    /// <summary>The bytes saved with <see cref="SaveVocabulary"/> (as of the recovered checkpoint), or null.</summary>
    public byte[]? LoadVocabulary()
    {
        var header = ReadMeta(VocabularyKey);
        if (header is null) return null;
        if (header.Length != 2 * sizeof(int)) throw new InvalidDataException($"{Options.CheckpointDirectory}: the vocabulary header record is {header.Length} bytes, not 8.");
        int chunks = BinaryPrimitives.ReadInt32LittleEndian(header), length = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(sizeof(int)));
        var blob = new byte[length];
        int at = 0;
        for (int c = 0; c < chunks; c++)
        {
            var chunk = ReadMeta(VocabularyChunkKeys - c) ?? throw new InvalidDataException($"{Options.CheckpointDirectory}: vocabulary chunk {c} of {chunks} is missing.");
            if (at + chunk.Length > length) throw new InvalidDataException($"{Options.CheckpointDirectory}: vocabulary chunk {c} overruns the {length} bytes its header names.");
            chunk.CopyTo(blob, at);
            at += chunk.Length;
        }
        if (at != length) throw new InvalidDataException($"{Options.CheckpointDirectory}: vocabulary chunks hold {at} bytes, the header names {length}.");
        return blob;
    }

    internal void WriteMeta(long key, byte[] blob)
    {
        var session = RentSession();
        try { session.UpsertBlob(key, blob); }
        finally { Return(session); }
    }

    internal byte[]? ReadMeta(long key)
    {
        var session = RentSession();
        try { return session.ReadBlob(key); }
        finally { Return(session); }
    }

    public void Dispose()
    {
        while (_pool.TryTake(out var s)) s.Dispose();
        _kv.Dispose();
        _log.Dispose();
        Cache?.Dispose();
        Resident?.Dispose();
    }
}
