namespace RecsysEmbed.Training.Checkpoints;

/// <summary>What is wrong with a checkpoint, for callers that react differently to each case.</summary>
public enum CheckpointProblem
{
    /// <summary>The directory holds no checkpoint, or the requested step does not exist.</summary>
    NotFound,
    /// <summary>A file the manifest lists (or manifest.json itself) is missing.</summary>
    MissingFile,
    /// <summary>A file is shorter or longer than the manifest says (typically truncated by a crash or a full disk).</summary>
    LengthMismatch,
    /// <summary>A file's bytes do not hash to the manifest's checksum (bit rot, partial overwrite).</summary>
    ChecksumMismatch,
    /// <summary>manifest.json or LATEST is not what this format writes: bad JSON, missing or ill-typed fields.</summary>
    BadManifest,
    /// <summary>The manifest's formatVersion is not one this build reads.</summary>
    UnsupportedVersion,
    /// <summary>The checkpoint has no entry of the requested name, or the entry is of another kind.</summary>
    MissingEntry,
    /// <summary>The entry does not fit the object it is restored into (rows, dim, optimizer, dtype, shape, keys).</summary>
    ShapeMismatch,
    /// <summary>Another writer holds the directory's lock, or a checkpoint could not be written.</summary>
    WriteFailed,
}

/// <summary>
/// A checkpoint that cannot be written, found, trusted or restored. <see cref="Path"/> names the file (or
/// directory) at fault and the message says what is wrong with it, for example
/// <c>checkpoint /ckpt/ckpt-200/0001-tables_user.bin: length mismatch: 4096 bytes on disk, manifest says 8192</c>.
/// </summary>
public sealed class CheckpointException : Exception
{
    public CheckpointException(CheckpointProblem problem, string path, string detail, Exception? inner = null)
        : base($"checkpoint {path}: {detail}", inner)
    {
        Problem = problem;
        Path = path;
        Detail = detail;
    }

    public CheckpointProblem Problem { get; }

    /// <summary>Full path of the file or directory at fault.</summary>
    public string Path { get; }

    /// <summary>The message without the path prefix.</summary>
    public string Detail { get; }
}
