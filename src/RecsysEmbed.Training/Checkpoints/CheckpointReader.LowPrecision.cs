using System.Runtime.InteropServices;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Training.Checkpoints;

/// <summary>Low-precision tables (family lp), whose rows are not fp32 matrices.</summary>
public sealed partial class CheckpointReader
{
    /// <summary>
    /// Restores a <see cref="LowPrecisionTable"/> in place from an entry written by
    /// <see cref="CheckpointWriter.AddLowPrecisionTable"/>: the stored rows (and int8 scales) bit for bit, and with
    /// <paramref name="includeOptimizerState"/> also the optimizer state and step count (which seeds the rounding).
    /// Rows, dim, precision and hashing (with its seed, which places ids) must match, and the optimizer and state
    /// width when the state is restored; all checks run before the table is touched. Pass includeOptimizerState:
    /// false to start a new optimizer from trained weights.
    /// </summary>
    /// <exception cref="CheckpointException">MissingEntry, BadManifest, or ShapeMismatch naming the entry and the field.</exception>
    public void RestoreLowPrecisionTable(string name, LowPrecisionTable table, bool includeOptimizerState = true)
    {
        ArgumentNullException.ThrowIfNull(table);
        var layout = CheckLowPrecisionTable(name, table, includeOptimizerState);
        using var stream = OpenEntry(layout.Entry);
        ReadChunks(stream, table.Rows, table.StoredRowBytes, table.StoredRows);
        if (table.Precision == RowPrecision.Int8)
            ReadChunks(stream, table.Rows, sizeof(float), (first, count) => MemoryMarshal.AsBytes(table.RowScales(first, count)));
        if (!includeOptimizerState) return;
        if (table.StateWidth > 0)
            ReadChunks(stream, table.Rows, table.StateWidth * sizeof(float), (first, count) => MemoryMarshal.AsBytes(table.StateRows(first, count)));
        table.SetStepCount(layout.StepCount);
    }

    private readonly record struct LowPrecisionLayout(CheckpointEntry Entry, long StepCount);

    private LowPrecisionLayout CheckLowPrecisionTable(string name, LowPrecisionTable table, bool includeOptimizerState)
    {
        var entry = Entry(name, CheckpointEntryKind.LowPrecisionTable);
        long rows = MetaLong(entry, "rows");
        int dim = checked((int)MetaLong(entry, "dim"));
        string precisionName = MetaValue<string>(entry, entry.Metadata, "precision", "");
        bool hashed = MetaValue<bool>(entry, entry.Metadata, "hashed", "");
        ulong seed = MetaValue<ulong>(entry, entry.Metadata, "seed", "");
        int stateWidth = checked((int)MetaLong(entry, "stateWidth"));
        string optimizer = MetaValue<string>(entry, entry.Metadata, "optimizer", "");
        long stepCount = MetaLong(entry, "stepCount");
        if (!Enum.TryParse<RowPrecision>(precisionName, ignoreCase: false, out var precision) || !Enum.IsDefined(precision))
            throw BadEntry(entry, $"precision '{precisionName}' is not one of {string.Join(", ", Enum.GetNames<RowPrecision>())}.");
        if (rows <= 0 || dim <= 0 || stateWidth < 0 || stepCount < 0)
            throw BadEntry(entry, $"rows {rows} and dim {dim} must be > 0, stateWidth {stateWidth} and stepCount {stepCount} >= 0.");
        long rowBytes = precision == RowPrecision.Fp16 ? dim * 2L : dim + (long)sizeof(float);
        if (rows * (rowBytes + stateWidth * (long)sizeof(float)) != entry.Length)
            throw BadEntry(entry, $"rows {rows}, dim {dim}, precision {precision} and stateWidth {stateWidth} do not match {entry.Length} bytes.");

        RequireSame(entry, table, "rows", rows, table.Rows);
        RequireSame(entry, table, "dim", dim, table.Dim);
        RequireSame(entry, table, "precision", precision, table.Precision);
        RequireSame(entry, table, "hashed", hashed, table.Hashed);
        if (hashed) RequireSame(entry, table, "seed", seed, table.Seed, " (it places ids in rows)");
        if (includeOptimizerState)
        {
            const string weightsOnly = "; pass includeOptimizerState: false to restore the weights only";
            RequireSame(entry, table, "optimizer", optimizer, table.Optimizer.Kind.ToString(), weightsOnly);
            RequireSame(entry, table, "stateWidth", stateWidth, table.StateWidth, weightsOnly);
        }
        return new LowPrecisionLayout(entry, stepCount);
    }

    private void RequireSame<T>(CheckpointEntry entry, LowPrecisionTable table, string field, T stored, T actual, string hint = "")
    {
        if (EqualityComparer<T>.Default.Equals(stored, actual)) return;
        throw new CheckpointException(CheckpointProblem.ShapeMismatch, FilePath(entry),
            $"entry '{entry.Name}': {field} is {stored} in the checkpoint but {actual} in table '{table.Name}'{hint}.");
    }

    /// <summary>The bytes of rows [firstRow, firstRow + count) of one contiguous buffer.</summary>
    private delegate Span<byte> RowRangeAccessor(long firstRow, int count);

    // Reads straight into the table's memory, ChunkBytes (at least one row) per call.
    private void ReadChunks(Stream stream, long rows, int rowBytes, RowRangeAccessor range)
    {
        int rowsPerChunk = Math.Max(1, ChunkBytes / rowBytes);
        for (long start = 0; start < rows; start += rowsPerChunk)
            stream.ReadExactly(range(start, (int)Math.Min(rowsPerChunk, rows - start)));
    }
}
