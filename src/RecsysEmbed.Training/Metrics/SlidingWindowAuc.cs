namespace RecsysEmbed.Training.Metrics;

/// <summary>
/// Exact AUC over the last <see cref="Capacity"/> samples seen (progressive evaluation: "how good is the model
/// on recent traffic"). Samples go into a ring of packed (score, label) keys, 8 bytes each:
/// <code>
///   ring   [ k_0 k_1 ... k_{C-1} ]   next write at _head; once full, the oldest key is overwritten
///   scratch[ C keys ]                 copy of the window, sorted by <see cref="Compute"/>
/// </code>
/// Add is O(batch) and allocation-free; <see cref="Compute"/> sorts a copy of the window, O(C log C), so call it
/// once per report, not once per batch. Both buffers are allocated once, in the constructor.
/// </summary>
public sealed class SlidingWindowAuc
{
    private readonly ulong[] _ring;
    private readonly ulong[] _scratch;
    private int _head;
    private long _seen;

    public SlidingWindowAuc(int capacity)
    {
        if (capacity <= 0) ThrowHelper.OutOfRange(nameof(capacity), capacity, "window capacity must be > 0 samples.");
        _ring = new ulong[capacity];
        _scratch = new ulong[capacity];
    }

    /// <summary>Window length in samples.</summary>
    public int Capacity => _ring.Length;

    /// <summary>Samples currently in the window: min(samples seen, Capacity).</summary>
    public int Count => (int)Math.Min(_seen, _ring.Length);

    /// <summary>Adds a batch (any scores, not NaN; labels 0 or 1). A batch longer than the window keeps its tail.</summary>
    /// <exception cref="ArgumentException">Bad input; the window is left unchanged.</exception>
    public void Add(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
    {
        MetricInput.Validate(predictions, labels, probabilities: false);
        AddValidated(predictions, labels);
    }

    internal void AddValidated(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
    {
        int skip = Math.Max(0, predictions.Length - _ring.Length);
        for (int i = skip; i < predictions.Length; i++)
        {
            _ring[_head] = MetricInput.PairKey(predictions[i], labels[i]);
            if (++_head == _ring.Length) _head = 0;
        }
        _seen += predictions.Length;
    }

    /// <summary>Exact AUC of the samples in the window (ties count half); NaN while it holds one class only or nothing.</summary>
    public double Compute()
    {
        int n = Count;
        if (n == 0) return double.NaN;
        // The window's order does not matter to AUC, so the ring is copied as is (wrapped or not).
        var keys = _scratch.AsSpan(0, n);
        _ring.AsSpan(0, n).CopyTo(keys);
        return Auc.FromKeys(keys);
    }

    public void Reset()
    {
        _head = 0;
        _seen = 0;
    }
}
