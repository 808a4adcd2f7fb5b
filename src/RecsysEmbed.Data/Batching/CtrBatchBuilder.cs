using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Data.Schema;

namespace RecsysEmbed.Data.Batching;

/// <summary>
/// Fills <see cref="CtrBatch"/>es sample by sample: the label, dense row and source position here, the sparse bags
/// in the wrapped <see cref="KeyedJaggedBatchBuilder"/> (raw values become ids through its per-feature salted
/// <see cref="IdHasher"/>). Buffers grow geometrically and are reused, so steady-state building allocates nothing
/// per sample, nor per batch when the previous batch is passed back to <see cref="Build"/>.
/// <code>
///   var dense = builder.BeginSample(label: 1f, sourcePosition: lineNumber);   // dense row, zeroed
///   dense[0] = 3.2f;
///   builder.Sparse.AddUtf8(0, "68fd1e64"u8);
///   builder.EndSample();
///   ...
///   batch = builder.Build(batch);
/// </code>
/// Not thread-safe; one builder per reading thread.
/// </summary>
public sealed class CtrBatchBuilder
{
    private float[] _labels = new float[64];
    private float[] _dense;
    private long[] _positions = new long[64];
    private int _samples;
    private bool _open;

    public CtrBatchBuilder(DatasetSchema schema, ulong hashSeed = IdHasher.DefaultSeed)
    {
        ArgumentNullException.ThrowIfNull(schema);
        Schema = schema;
        HashSeed = hashSeed;
        Sparse = new KeyedJaggedBatchBuilder(schema.SparseFeatures, schema.WeightedSparse, hashSeed);
        _dense = new float[64 * Math.Max(1, schema.DenseCount)];
    }

    public DatasetSchema Schema { get; }
    public ulong HashSeed { get; }

    /// <summary>The sparse side; add ids of the open sample here (feature index = position in the schema).</summary>
    public KeyedJaggedBatchBuilder Sparse { get; }

    /// <summary>Samples completed since the last <see cref="Build"/>.</summary>
    public int SampleCount => _samples;

    /// <summary>Stamped on built batches; readers set it to their file name.</summary>
    public string? SourceName { get; set; }

    /// <summary>
    /// Opens a sample and returns its dense row (D floats, zeroed) for the caller to fill before
    /// <see cref="EndSample"/>.
    /// </summary>
    public Span<float> BeginSample(float label, long sourcePosition)
    {
        if (_open) throw new InvalidOperationException("the previous sample is still open; call EndSample() first.");
        if (!float.IsFinite(label)) throw new ArgumentOutOfRangeException(nameof(label), label, "label must be finite (0 or 1 for CTR).");
        if (_samples == _labels.Length)
        {
            Array.Resize(ref _labels, _labels.Length * 2);
            Array.Resize(ref _positions, _positions.Length * 2);
        }
        int d = Schema.DenseCount;
        if ((_samples + 1) * d > _dense.Length) Array.Resize(ref _dense, Math.Max(_dense.Length * 2, (_samples + 1) * d));
        _labels[_samples] = label;
        _positions[_samples] = sourcePosition;
        _open = true;
        var row = _dense.AsSpan(_samples * d, d);
        row.Clear();
        return row;
    }

    /// <summary>Closes the open sample; sparse features that got no id have an empty bag.</summary>
    public void EndSample()
    {
        if (!_open) throw new InvalidOperationException("no sample is open; call BeginSample() first.");
        Sparse.EndSample();
        _samples++;
        _open = false;
    }

    /// <summary>
    /// Packs the samples so far into a batch and clears the builder. Passing a batch previously built by this
    /// builder reuses its buffers (and returns it).
    /// </summary>
    public CtrBatch Build(CtrBatch? reuse = null)
    {
        if (_open) throw new InvalidOperationException("a sample is still open; call EndSample() first.");
        if (reuse != null && !reuse.Schema.SameLayout(Schema))
            throw new ArgumentException($"the batch to reuse has schema ({reuse.Schema}), the builder has ({Schema}).", nameof(reuse));
        var batch = reuse ?? new CtrBatch(Schema);
        var sparse = Sparse.Build(reuse?.Sparse);
        int n = _samples;
        batch.Fill(n, _labels.AsSpan(0, n), _dense.AsSpan(0, n * Schema.DenseCount), _positions.AsSpan(0, n), sparse, SourceName);
        _samples = 0;
        return batch;
    }
}
