using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Training.Checkpoints;

/// <summary>Low-precision tables (family lp), whose rows are not fp32 matrices.</summary>
public sealed partial class CheckpointWriter
{
    /// <summary>
    /// Adds a <see cref="LowPrecisionTable"/> exactly as stored, so a restore resumes bit for bit (no re-rounding):
    /// <code>
    ///   [ Rows * StoredRowBytes ]   fp16 halves or int8 codes, row-major
    ///   [ Rows * 4 ]                int8 only: the per-row float32 scales
    ///   [ Rows * StateWidth * 4 ]   float32 optimizer state
    /// </code>
    /// with metadata table, rows, dim, precision, hashed, seed, stateWidth, optimizer and stepCount. Each buffer is
    /// written straight from the table's memory in pieces of at most ChunkBytes (at least one row).
    /// </summary>
    public void AddLowPrecisionTable(string name, LowPrecisionTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        var meta = new JsonObject
        {
            ["table"] = table.Name,
            ["rows"] = table.Rows,
            ["dim"] = table.Dim,
            ["precision"] = table.Precision.ToString(),
            ["hashed"] = table.Hashed,
            ["seed"] = table.Seed,
            ["stateWidth"] = table.StateWidth,
            ["optimizer"] = table.Optimizer.Kind.ToString(),
            ["stepCount"] = table.StepCount,
        };
        AddEntryOfKind(name, CheckpointEntryKind.LowPrecisionTable, stream =>
        {
            WriteChunks(stream, table.Rows, table.StoredRowBytes, table.StoredRows);
            if (table.Precision == RowPrecision.Int8)
                WriteChunks(stream, table.Rows, sizeof(float), (first, count) => MemoryMarshal.AsBytes(table.RowScales(first, count)));
            if (table.StateWidth > 0)
                WriteChunks(stream, table.Rows, table.StateWidth * sizeof(float), (first, count) => MemoryMarshal.AsBytes(table.StateRows(first, count)));
        }, meta);
    }

    /// <summary>The bytes of rows [firstRow, firstRow + count) of one contiguous buffer.</summary>
    private delegate Span<byte> RowRangeAccessor(long firstRow, int count);

    private void WriteChunks(Stream stream, long rows, int rowBytes, RowRangeAccessor range)
    {
        int rowsPerChunk = Math.Max(1, _options.ChunkBytes / rowBytes);
        for (long start = 0; start < rows; start += rowsPerChunk)
            stream.Write(range(start, (int)Math.Min(rowsPerChunk, rows - start)));
    }
}
