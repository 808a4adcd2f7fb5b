using System.Globalization;
using System.Text;

namespace RecsysEmbed.Serving.Metrics;

/// <summary>A monotonically increasing count (Prometheus counter); thread-safe, lock-free.</summary>
public sealed class Counter(string name, string help, string labels = "")
{
    private long _value;
    public string Name { get; } = name;
    public string Help { get; } = help;
    public string Labels { get; } = labels;
    public long Value => Interlocked.Read(ref _value);
    public void Add(long n = 1) => Interlocked.Add(ref _value, n);
}

/// <summary>A value that goes up and down (Prometheus gauge).</summary>
public sealed class Gauge(string name, string help)
{
    private long _bits;
    public string Name { get; } = name;
    public string Help { get; } = help;
    public double Value => BitConverter.Int64BitsToDouble(Interlocked.Read(ref _bits));
    public void Set(double v) => Interlocked.Exchange(ref _bits, BitConverter.DoubleToInt64Bits(v));
}

/// <summary>
/// Latency histogram in seconds with fixed buckets 1-2-5 per decade from 10 us to 10 s (Prometheus "le" buckets);
/// observing is a bucket search plus two interlocked adds.
/// </summary>
public sealed class Histogram(string name, string help, string labels = "")
{
    private static readonly double[] Bounds = BuildBounds();
    private readonly long[] _counts = new long[Bounds.Length + 1];
    private long _sumNanos;

    public string Name { get; } = name;
    public string Help { get; } = help;
    public string Labels { get; } = labels;

    private static double[] BuildBounds()
    {
        var b = new List<double>();
        for (double decade = 1e-5; decade < 10; decade *= 10) b.AddRange([decade, 2 * decade, 5 * decade]);
        b.Add(10);
        return b.ToArray();
    }

    public void Observe(double seconds)
    {
        int i = Array.BinarySearch(Bounds, seconds);
        if (i < 0) i = ~i;
        Interlocked.Increment(ref _counts[i]);
        Interlocked.Add(ref _sumNanos, (long)(seconds * 1e9));
    }

    public long Count => _counts.Sum(c => Interlocked.Read(ref c));

    internal void Write(StringBuilder sb)
    {
        long cumulative = 0;
        string sep = Labels.Length > 0 ? Labels + "," : "";
        for (int i = 0; i < Bounds.Length; i++)
        {
            cumulative += Interlocked.Read(ref _counts[i]);
            sb.Append(Name).Append("_bucket{").Append(sep).Append("le=\"").Append(Bounds[i].ToString("G", CultureInfo.InvariantCulture)).Append("\"} ").Append(cumulative).Append('\n');
        }
        cumulative += Interlocked.Read(ref _counts[^1]);
        sb.Append(Name).Append("_bucket{").Append(sep).Append("le=\"+Inf\"} ").Append(cumulative).Append('\n');
        string l = Labels.Length > 0 ? "{" + Labels + "}" : "";
        sb.Append(Name).Append("_sum").Append(l).Append(' ').Append((Interlocked.Read(ref _sumNanos) / 1e9).ToString("G", CultureInfo.InvariantCulture)).Append('\n');
        sb.Append(Name).Append("_count").Append(l).Append(' ').Append(cumulative).Append('\n');
    }
}

/// <summary>Renders metrics in the Prometheus text exposition format (version 0.0.4).</summary>
public static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Render(IEnumerable<Counter> counters, IEnumerable<Gauge> gauges, IEnumerable<Histogram> histograms)
    {
        var sb = new StringBuilder();
        var seen = new HashSet<string>();
        foreach (var c in counters)
        {
            if (seen.Add(c.Name)) sb.Append("# HELP ").Append(c.Name).Append(' ').Append(c.Help).Append("\n# TYPE ").Append(c.Name).Append(" counter\n");
            sb.Append(c.Name).Append(c.Labels.Length > 0 ? "{" + c.Labels + "}" : "").Append(' ').Append(c.Value).Append('\n');
        }
        foreach (var g in gauges)
        {
            sb.Append("# HELP ").Append(g.Name).Append(' ').Append(g.Help).Append("\n# TYPE ").Append(g.Name).Append(" gauge\n");
            sb.Append(g.Name).Append(' ').Append(g.Value.ToString("G", CultureInfo.InvariantCulture)).Append('\n');
        }
        foreach (var h in histograms)
        {
            if (seen.Add(h.Name)) sb.Append("# HELP ").Append(h.Name).Append(' ').Append(h.Help).Append("\n# TYPE ").Append(h.Name).Append(" histogram\n");
            h.Write(sb);
        }
        return sb.ToString();
    }
}
