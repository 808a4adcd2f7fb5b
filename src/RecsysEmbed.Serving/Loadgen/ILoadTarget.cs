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

/// <summary>Request shape: features C1..CF ("prefix" + index), each with one value "v{k}", k uniform in [0, Cardinality).</summary>
public sealed record LoadShape(int Features = 26, int Cardinality = 10_000, string Prefix = "C")
{
    public string FeatureName(int f) => Prefix + (f + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
    public static string Value(int k) => "v" + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
    /// <summary>Redis key of a feature's value (same keys in the fill and in the MGETs).</summary>
    public string RedisKey(int f, string value) => $"emb:{FeatureName(f)}:{value}";
}
