using RecsysEmbed.Core.Export;

namespace RecsysEmbed.Serving.Store;

/// <summary>
/// Where and how a <see cref="FasterRowStore"/> keeps its rows. The hybrid log's in-memory part is sized from
/// <see cref="MemoryBudgetBytes"/> (rounded down to a power of two, as FASTER requires); rows beyond it live in
/// the log file on <see cref="LogDevicePath"/> and are read back from disk on demand.
/// </summary>
public sealed record RowStoreOptions
{
    /// <summary>Directory of the store's FASTER checkpoints (index + log metadata + applied update offsets).</summary>
    public required string CheckpointDirectory { get; init; }
    /// <summary>File of the hybrid log on the device the user names (segments get a numeric suffix).</summary>
    public required string LogDevicePath { get; init; }
    /// <summary>Memory for the in-memory part of the hybrid log, in bytes (at least 1 MiB).</summary>
    public long MemoryBudgetBytes { get; init; } = 256L << 20;
    /// <summary>Rows the hash index is sized for (it grows beyond, more slowly).</summary>
    public long ExpectedRows { get; init; } = 1 << 20;
    /// <summary>Storage format per table name; tables not listed use <see cref="DefaultFormat"/>.</summary>
    public IReadOnlyDictionary<string, RowFormat> TableFormats { get; init; } = new Dictionary<string, RowFormat>();
    public RowFormat DefaultFormat { get; init; } = RowFormat.Fp32;
    /// <summary>
    /// How FASTER isolates a row being read from a concurrent in-place update: RecordIsolation (default) locks the record
    /// header only while a reader or writer touches it; LockTable latches the hash bucket on every read.
    /// </summary>
    public FASTER.core.ConcurrencyControlMode ConcurrencyControl { get; init; } = FASTER.core.ConcurrencyControlMode.RecordIsolation;

    /// <summary>
    /// Memory for the hot-row cache in front of FASTER (decoded fp32 rows, filled on read misses, kept coherent with
    /// every store write; see <see cref="HotRowCache"/>); 0 turns it off. Costs <see cref="HotRowCache.BytesPerRow"/>
    /// per cached row (96 B at dim 16, 288 B at dim 64).
    /// </summary>
    public long HotCacheBytes { get; init; }

    /// <summary>
    /// Keep every row decoded in memory as well (<see cref="ResidentRows"/>, 16 B + 4 B per value a row, beside
    /// FASTER's log): reads become an array index and a copy. For models whose rows fit in RAM; excludes the hot cache.
    /// </summary>
    public bool Resident { get; init; }

    public RowFormat FormatOf(string table) => TableFormats.TryGetValue(table, out var f) ? f : DefaultFormat;

    internal void Validate()
    {
        if (MemoryBudgetBytes < 1 << 20)
            throw new ArgumentOutOfRangeException(nameof(MemoryBudgetBytes), MemoryBudgetBytes, $"--memory: {MemoryBudgetBytes} bytes is below the 1 MiB a store needs.");
        if (HotCacheBytes < 0) throw new ArgumentOutOfRangeException(nameof(HotCacheBytes), HotCacheBytes, $"--hot-cache: {HotCacheBytes} bytes must be >= 0.");
        if (Resident && HotCacheBytes > 0)
            throw new ArgumentException($"--resident and --hot-cache {HotCacheBytes} exclude each other: a resident store already holds every row in memory.", nameof(HotCacheBytes));
        if (string.IsNullOrWhiteSpace(CheckpointDirectory)) throw new ArgumentException("the store's checkpoint directory is empty.", nameof(CheckpointDirectory));
        if (string.IsNullOrWhiteSpace(LogDevicePath)) throw new ArgumentException("the store's log device path is empty.", nameof(LogDevicePath));
    }
}
