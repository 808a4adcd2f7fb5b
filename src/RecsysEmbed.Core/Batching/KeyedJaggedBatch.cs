namespace RecsysEmbed.Core.Batching;

/// <summary>
/// A batch of B samples with F sparse features, stored feature-major in flat buffers (as TorchRec's
/// KeyedJaggedTensor):
/// <code>
///   Keys     [ "C1"            | "C2"        ]
///   Values   [ 7 3 | 9 | 4 4   | 1 | 2 | 8 5 ]        feature C1 bags 0..2, then C2 bags 0..2
///   Offsets  [ 0   2   3   5     6   7   9  ]        F*B + 1 entries, global into Values
///   Weights  [ optional, one per value ]
/// </code>
/// <see cref="Feature(int)"/> returns a zero-copy <see cref="JaggedFeature"/> view. Build one without per-sample
/// allocations with <see cref="KeyedJaggedBatchBuilder"/>.
/// </summary>
public sealed class KeyedJaggedBatch
{
    private readonly Dictionary<string, int> _keyIndex;
    private long[] _values;
    private int[] _offsets;
    private float[]? _weights;

    public KeyedJaggedBatch(IReadOnlyList<string> keys, int batchSize, long[] values, int[] offsets, float[]? weights = null)
        : this(keys, batchSize, values, offsets, weights, validate: true) { }

    internal KeyedJaggedBatch(IReadOnlyList<string> keys, int batchSize, long[] values, int[] offsets, float[]? weights, bool validate)
    {
        ArgumentNullException.ThrowIfNull(keys);
        Keys = keys.ToArray();
        _keyIndex = new Dictionary<string, int>(Keys.Count, StringComparer.Ordinal);
        for (int f = 0; f < Keys.Count; f++)
        {
            if (!_keyIndex.TryAdd(Keys[f], f)) ThrowHelper.Argument(nameof(keys), $"key '{Keys[f]}' appears twice.");
        }
        _values = values;
        _offsets = offsets;
        _weights = weights;
        BatchSize = batchSize;
        // Shape first: reading the last offset below needs a non-negative batch size and enough offsets.
        if (validate) ValidateShape();
        ValueCount = offsets.Length > 0 ? offsets[Keys.Count * batchSize] : 0;
        if (validate) Validate();
    }

    public IReadOnlyList<string> Keys { get; }
    public int BatchSize { get; private set; }
    public int ValueCount { get; private set; }
    public bool HasWeights => _weights != null;

    public ReadOnlySpan<long> Values => _values.AsSpan(0, ValueCount);
    public ReadOnlySpan<int> Offsets => _offsets.AsSpan(0, Keys.Count * BatchSize + 1);
    public ReadOnlySpan<float> Weights => _weights is null ? default : _weights.AsSpan(0, ValueCount);

    internal long[] RawValues => _values;
    internal int[] RawOffsets => _offsets;
    internal float[]? RawWeights => _weights;

    /// <summary>Index of a feature key, or -1.</summary>
    public int IndexOf(string key) => _keyIndex.TryGetValue(key, out int f) ? f : -1;

    public JaggedFeature Feature(string key)
    {
        int f = IndexOf(key);
        if (f < 0) ThrowHelper.Argument(nameof(key), $"feature '{key}' is not in this batch (keys: {string.Join(", ", Keys)}).");
        return Feature(f);
    }

    public JaggedFeature Feature(int featureIndex)
    {
        if ((uint)featureIndex >= (uint)Keys.Count) ThrowHelper.OutOfRange(nameof(featureIndex), featureIndex, $"there are {Keys.Count} features.");
        int first = featureIndex * BatchSize;
        var offsets = _offsets.AsSpan(first, BatchSize + 1);
        int start = offsets[0], end = offsets[^1];
        var ids = _values.AsSpan(start, end - start);
        var weights = _weights is null ? default : _weights.AsSpan(start, end - start);
        return UncheckedView(ids, offsets, weights);
    }

    /// <summary>Re-points this batch at new buffers (the builder's reuse path); validation already happened.</summary>
    internal void Reset(int batchSize, long[] values, int[] offsets, float[]? weights)
    {
        BatchSize = batchSize;
        _values = values;
        _offsets = offsets;
        _weights = weights;
        ValueCount = offsets[Keys.Count * batchSize];
    }

    private void ValidateShape()
    {
        ArgumentNullException.ThrowIfNull(_values, "values");
        ArgumentNullException.ThrowIfNull(_offsets, "offsets");
        if (BatchSize < 0) ThrowHelper.OutOfRange("batchSize", BatchSize, "batch size is negative.");
        int needed = Keys.Count * BatchSize + 1;
        if (_offsets.Length < needed) ThrowHelper.TooShort("offsets", needed, _offsets.Length);
    }

    private void Validate()
    {
        int needed = Keys.Count * BatchSize + 1;
        if (_offsets[0] != 0) ThrowHelper.OutOfRange("offsets", _offsets[0], "offsets[0] must be 0.");
        for (int i = 1; i < needed; i++)
        {
            if (_offsets[i] < _offsets[i - 1])
                ThrowHelper.Argument("offsets", $"offsets are not monotone: offsets[{i}] = {_offsets[i]} < offsets[{i - 1}] = {_offsets[i - 1]}.");
        }
        if (_values.Length < ValueCount) ThrowHelper.TooShort("values", ValueCount, _values.Length);
        if (_weights != null && _weights.Length < ValueCount) ThrowHelper.TooShort("weights", ValueCount, _weights.Length);
        for (int i = 0; i < ValueCount; i++)
        {
            if (_values[i] < 0) ThrowHelper.NegativeId("values", _values[i], i);
        }
    }

    // Bypasses JaggedFeature's O(n) validation for views of an already validated batch.
    private static JaggedFeature UncheckedView(ReadOnlySpan<long> ids, ReadOnlySpan<int> offsets, ReadOnlySpan<float> weights) =>
        new(ids, offsets, weights, trusted: true);
}
