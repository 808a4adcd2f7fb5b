namespace RecsysEmbed.Streaming.Publishing;

/// <summary>
/// Freshness: for each trained record, the time from its production (the message's CreateTime) to the
/// acknowledged publication of the rows it changed. Keeps a uniform sample (reservoir) of at most
/// <c>capacity</c> values for the percentiles.
/// </summary>
public sealed class FreshnessRecorder(int capacity = 200_000, int seed = 1)
{
    private readonly double[] _sample = new double[capacity];
    private readonly Random _random = new(seed);
    private readonly List<long> _pending = [];

    public long Count { get; private set; }

    /// <summary>A record with this production time was trained; it waits for the next publication.</summary>
    public void Trained(long producedUnixMs) => _pending.Add(producedUnixMs);

    public void TrainedMany(IEnumerable<long> producedUnixMs) => _pending.AddRange(producedUnixMs);

    /// <summary>The latest production time among records waiting for publication; null when none.</summary>
    public long? PendingSourceTime => _pending.Count == 0 ? null : _pending.Max();

    /// <summary>The rows of every pending record are now published (acknowledged at <paramref name="publishedUnixMs"/>).</summary>
    public void Published(long publishedUnixMs)
    {
        foreach (long t in _pending)
        {
            double ms = Math.Max(0, publishedUnixMs - t);
            if (Count < _sample.Length) _sample[Count] = ms;
            else
            {
                long j = _random.NextInt64(Count + 1);
                if (j < _sample.Length) _sample[j] = ms;
            }
            Count++;
        }
        _pending.Clear();
    }

    /// <summary>The q-quantile (0..1) of freshness in ms; null before the first publication.</summary>
    public double? Percentile(double q)
    {
        int n = (int)Math.Min(Count, _sample.Length);
        if (n == 0) return null;
        var sorted = _sample.AsSpan(0, n).ToArray();
        Array.Sort(sorted);
        return sorted[Math.Clamp((int)Math.Ceiling(q * n) - 1, 0, n - 1)];
    }
}
