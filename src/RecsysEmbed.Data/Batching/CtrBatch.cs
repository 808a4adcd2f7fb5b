using RecsysEmbed.Core.Batching;
using RecsysEmbed.Data.Schema;

namespace RecsysEmbed.Data.Batching;

/// <summary>
/// One mini-batch for CTR training, B samples, as flat buffers:
/// <code>
///   Labels           [ y0 y1 ... y(B-1) ]                     B floats, 0 or 1
///   Dense            [ x0,0 .. x0,D-1 | x1,0 .. | ... ]       B x D floats, row-major (sample b at b*D)
///   Sparse           KeyedJaggedBatch, F features x B bags     ids from the per-feature salted IdHasher
///   SourcePositions  [ 17 18 20 ... ]                         B longs: 1-based file line (text readers) or
///                                                             0-based record index (Parquet), for error reports
/// </code>
/// A batch built with reuse (<see cref="CtrBatchBuilder.Build"/>) is overwritten by the next build into it; copy
/// what must outlive it.
/// </summary>
public sealed class CtrBatch
{
    private float[] _labels = [];
    private float[] _dense = [];
    private long[] _positions = [];

    internal CtrBatch(DatasetSchema schema) => Schema = schema;

    public DatasetSchema Schema { get; }
    public int BatchSize { get; private set; }
    public int DenseCount => Schema.DenseCount;

    /// <summary>File (or stream) the samples came from; null when built by hand.</summary>
    public string? SourceName { get; private set; }

    public ReadOnlySpan<float> Labels => _labels.AsSpan(0, BatchSize);

    /// <summary>B x D dense values, row-major.</summary>
    public ReadOnlySpan<float> Dense => _dense.AsSpan(0, BatchSize * DenseCount);
    public ReadOnlySpan<long> SourcePositions => _positions.AsSpan(0, BatchSize);
    public KeyedJaggedBatch Sparse { get; private set; } = null!;

    /// <summary>The D dense values of sample <paramref name="sample"/>.</summary>
    public ReadOnlySpan<float> DenseRow(int sample)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sample);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(sample, BatchSize);
        return _dense.AsSpan(sample * DenseCount, DenseCount);
    }

    internal void Fill(int batchSize, ReadOnlySpan<float> labels, ReadOnlySpan<float> dense, ReadOnlySpan<long> positions,
        KeyedJaggedBatch sparse, string? sourceName)
    {
        Grow(ref _labels, labels.Length);
        Grow(ref _dense, dense.Length);
        Grow(ref _positions, positions.Length);
        labels.CopyTo(_labels);
        dense.CopyTo(_dense);
        positions.CopyTo(_positions);
        BatchSize = batchSize;
        Sparse = sparse;
        SourceName = sourceName;
    }

    private static void Grow<T>(ref T[] buffer, int needed)
    {
        if (buffer.Length < needed) buffer = new T[Math.Max(needed, buffer.Length * 2)];
    }
}
