using System.Text.Json.Nodes;

namespace RecsysEmbed.Training.Checkpoints;

/// <summary>Kinds of entry this library writes; each decides how the entry's file is laid out.</summary>
public static class CheckpointEntryKind
{
    /// <summary>Opaque bytes (AddBytes, AddStream, AddEntry).</summary>
    public const string Bytes = "bytes";
    /// <summary>float32 values, little-endian; metadata: count.</summary>
    public const string Floats = "floats";
    /// <summary>An EmbeddingMatrix: Rows*Dim weights then Rows*StateWidth optimizer state, float32 LE, row-major.</summary>
    public const string Matrix = "matrix";
    /// <summary>
    /// A LowPrecisionTable as stored: Rows*StoredRowBytes row bytes (fp16 halves or int8 codes), then for int8 Rows
    /// float32 scales, then Rows*StateWidth float32 optimizer state, all LE, row-major; metadata: table, rows, dim,
    /// precision, hashed, seed, stateWidth, optimizer, stepCount.
    /// </summary>
    public const string LowPrecisionTable = "lp_table";
    /// <summary>One tensor, raw contiguous bytes; metadata: dtype, shape.</summary>
    public const string Tensor = "tensor";
    /// <summary>A module's state_dict: its tensors back to back; metadata lists key, dtype, shape, offset, length.</summary>
    public const string StateDict = "state_dict";
    /// <summary>A TorchSharp optimizer, in TorchSharp's own save_state_dict format.</summary>
    public const string TorchOptimizer = "torch_optimizer";
}

/// <summary>
/// One entry of a checkpoint as its manifest records it. <paramref name="Checksum"/> is "xxh128:" followed by
/// 32 hex digits of the XxHash128 of the file. <paramref name="Metadata"/> is the entry's own JSON (shape,
/// dtype, rows...); treat it as read-only.
/// </summary>
public sealed record CheckpointEntry(string Name, string Kind, string File, long Length, string Checksum, JsonObject Metadata);
