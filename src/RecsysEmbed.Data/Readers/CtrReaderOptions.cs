using RecsysEmbed.Data.Transforms;

namespace RecsysEmbed.Data.Readers;

/// <summary>Per-run reader settings shared by every format.</summary>
public sealed record CtrReaderOptions
{
    public static CtrReaderOptions Default { get; } = new();

    /// <summary>What to do with a malformed record.</summary>
    public MalformedPolicy OnMalformed { get; init; } = MalformedPolicy.Fail;

    /// <summary>How many rejected records <see cref="MalformedReport"/> keeps as examples.</summary>
    public int MaxMalformedExamples { get; init; } = 5;

    /// <summary>Dense feature transform (formats with dense features; Criteo defaults to log1p).</summary>
    public DenseTransform Dense { get; init; } = DenseTransform.Log1p;

    /// <summary>Read buffer size in bytes (text readers).</summary>
    public int BufferBytes { get; init; } = 1 << 20;

    internal void Validate()
    {
        if (MaxMalformedExamples < 0) throw new ArgumentOutOfRangeException(nameof(MaxMalformedExamples), MaxMalformedExamples, "MaxMalformedExamples must be >= 0.");
        if (BufferBytes < 4096) throw new ArgumentOutOfRangeException(nameof(BufferBytes), BufferBytes, "BufferBytes must be >= 4096.");
        ArgumentNullException.ThrowIfNull(Dense);
    }
}
