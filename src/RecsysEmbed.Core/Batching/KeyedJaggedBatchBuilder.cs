using RecsysEmbed.Core.Hashing;

namespace RecsysEmbed.Core.Batching;

/// <summary>
/// Builds <see cref="KeyedJaggedBatch"/>es sample by sample from raw values. Buffers grow geometrically and are
/// reused across batches, so steady-state building allocates nothing per sample (nor per batch when the caller
/// passes the previous batch back to <see cref="Build"/>).
/// <code>
///   builder.AddString(0, "68fd1e64"); builder.AddInt64(1, 42); builder.EndSample();   // sample 0
///   ...
///   var batch = builder.Build();
/// </code>
/// </summary>
public sealed class KeyedJaggedBatchBuilder
{
    private readonly string[] _keys;
    private readonly IdHasher[] _hashers;
    private readonly Feature[] _features;
    private readonly bool _weighted;
    private int _samples;

    private sealed class Feature
    {
        public long[] Ids = new long[64];
        public float[] Weights = Array.Empty<float>();
        public int[] Lengths = new int[64];
        public int IdCount;
        public int Pending; // ids added to the current, unfinished sample
    }

    public KeyedJaggedBatchBuilder(IReadOnlyList<string> keys, bool weighted = false, ulong hashSeed = IdHasher.DefaultSeed)
    {
        _keys = keys.ToArray();
        _hashers = _keys.Select(k => new IdHasher(k, hashSeed)).ToArray();
        _features = _keys.Select(_ => new Feature()).ToArray();
        _weighted = weighted;
        if (weighted) foreach (var f in _features) f.Weights = new float[64];
    }

    public IReadOnlyList<string> Keys => _keys;
    public int SampleCount => _samples;
    public IdHasher Hasher(int feature) => _hashers[feature];

    /// <summary>Adds an already-computed id (must be >= 0).</summary>
    public void AddId(int feature, long id, float weight = 1f)
    {
        if (id < 0) ThrowHelper.OutOfRange(nameof(id), id, $"id for feature '{_keys[feature]}' is negative.");
        var f = _features[feature];
        if (f.IdCount == f.Ids.Length)
        {
            Array.Resize(ref f.Ids, f.Ids.Length * 2);
            if (_weighted) Array.Resize(ref f.Weights, f.Ids.Length);
        }
        f.Ids[f.IdCount] = id;
        if (_weighted) f.Weights[f.IdCount] = weight;
        else if (weight != 1f) ThrowHelper.Argument(nameof(weight), $"the builder was created unweighted, but feature '{_keys[feature]}' got weight {weight}.");
        f.IdCount++;
        f.Pending++;
    }

    public void AddString(int feature, ReadOnlySpan<char> raw, float weight = 1f) => AddId(feature, _hashers[feature].HashString(raw), weight);
    public void AddUtf8(int feature, ReadOnlySpan<byte> raw, float weight = 1f) => AddId(feature, _hashers[feature].HashUtf8(raw), weight);
    public void AddInt64(int feature, long raw, float weight = 1f) => AddId(feature, _hashers[feature].HashInt64(raw), weight);

    /// <summary>Closes the current sample; features that got no value have an empty bag.</summary>
    public void EndSample()
    {
        foreach (var f in _features)
        {
            if (_samples == f.Lengths.Length) Array.Resize(ref f.Lengths, f.Lengths.Length * 2);
            f.Lengths[_samples] = f.Pending;
            f.Pending = 0;
        }
        _samples++;
    }

    /// <summary>
    /// Packs the samples so far into a batch and clears the builder. Passing the previous batch (built by this
    /// builder) reuses its buffers when they are large enough.
    /// </summary>
    public KeyedJaggedBatch Build(KeyedJaggedBatch? reuse = null)
    {
        foreach (var f in _features)
        {
            if (f.Pending != 0) ThrowHelper.Argument("sample", $"feature '{_keys[Array.IndexOf(_features, f)]}' has values of an unfinished sample; call EndSample() first.");
        }
        int total = 0;
        foreach (var f in _features) total += f.IdCount;
        int offsetCount = _keys.Length * _samples + 1;

        long[] values; int[] offsets; float[]? weights;
        if (reuse != null && reuse.Keys.Count == _keys.Length)
        {
            values = Grow(reuse.RawValues, total);
            offsets = Grow(reuse.RawOffsets, offsetCount);
            weights = _weighted ? Grow(reuse.RawWeights ?? Array.Empty<float>(), total) : null;
        }
        else
        {
            values = new long[total];
            offsets = new int[offsetCount];
            weights = _weighted ? new float[total] : null;
        }

        int pos = 0, o = 0;
        offsets[0] = 0;
        foreach (var f in _features)
        {
            f.Ids.AsSpan(0, f.IdCount).CopyTo(values.AsSpan(pos));
            if (weights != null) f.Weights.AsSpan(0, f.IdCount).CopyTo(weights.AsSpan(pos));
            for (int s = 0; s < _samples; s++)
            {
                offsets[o + 1] = offsets[o] + f.Lengths[s];
                o++;
            }
            pos += f.IdCount;
            f.IdCount = 0;
        }

        int samples = _samples;
        _samples = 0;
        if (reuse != null && reuse.Keys.Count == _keys.Length)
        {
            reuse.Reset(samples, values, offsets, weights);
            return reuse;
        }
        return new KeyedJaggedBatch(_keys, samples, values, offsets, weights, validate: false);
    }

    private static T[] Grow<T>(T[] existing, int needed) => existing.Length >= needed ? existing : new T[Math.Max(needed, existing.Length * 2)];
}
