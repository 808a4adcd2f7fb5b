namespace RecsysEmbed.Serving.Loadgen;

/// <summary>
/// One kind of server a load test calls with the same request shape: F features, one raw value each, drawn from
/// <see cref="LoadShape.Cardinality"/> values per feature. Implementations are thread-safe and reuse connections.
/// </summary>
public interface ILoadTarget : IAsyncDisposable
{
    string Name { get; }
    /// <summary>Issues one request; throws on failure (the generator counts errors by kind).</summary>
    ValueTask CallAsync(ReadOnlyMemory<string> values, CancellationToken cancel);
}

/// <summary>A target with a synchronous call (the in-process store): driven by dedicated threads, no async machinery.</summary>
public interface ISyncLoadTarget : ILoadTarget
{
    void Call(ReadOnlySpan<string> values);
}

/// <summary>Request shape: features C1..CF ("prefix" + index), each with one value "v{k}", k uniform in [0, Cardinality).</summary>
public sealed record LoadShape(int Features = 26, int Cardinality = 10_000, string Prefix = "C")
{
    public string FeatureName(int f) => Prefix + (f + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
    public static string Value(int k) => "v" + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
    /// <summary>All values of a feature, made once so callers allocate nothing per request.</summary>
    public string[] Values() => Enumerable.Range(0, Cardinality).Select(Value).ToArray();
    /// <summary>Redis key of a feature's value (same keys in the fill and in the MGETs).</summary>
    public string RedisKey(int f, string value) => $"emb:{FeatureName(f)}:{value}";
}
