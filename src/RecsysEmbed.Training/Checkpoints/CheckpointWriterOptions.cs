namespace RecsysEmbed.Training.Checkpoints;

/// <summary>Settings of a <see cref="CheckpointWriter"/>. Immutable.</summary>
public sealed record CheckpointWriterOptions
{
    /// <summary>Checkpoints kept after a commit, the new one included (older ones are deleted once it is durable). At least 1.</summary>
    public int KeepLast { get; init; } = 3;

    /// <summary>Bytes copied per I/O call when streaming matrices and tensors (default 4 MiB); bounds the scratch buffer.</summary>
    public int ChunkBytes { get; init; } = 4 << 20;

    public void Validate()
    {
        if (KeepLast < 1) throw new ArgumentOutOfRangeException(nameof(KeepLast), KeepLast, "keep_last must be >= 1.");
        if (ChunkBytes < 64) throw new ArgumentOutOfRangeException(nameof(ChunkBytes), ChunkBytes, "chunk_bytes must be >= 64.");
    }
}
