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

/// <summary>
/// A target whose callers each own a connection-like state (a gRPC stream, one request at a time): the generator
/// opens one <see cref="ILoadCaller"/> per concurrent caller for the whole run (warm-up included) and disposes them
/// at the end; <see cref="ILoadTarget.CallAsync"/> stays usable on its own (it borrows a caller from a pool).
/// </summary>
public interface IPerCallerLoadTarget : ILoadTarget
{
    ILoadCaller OpenCaller();
}

/// <summary>One caller's own channel to a <see cref="IPerCallerLoadTarget"/>; used by one caller at a time.</summary>
public interface ILoadCaller : IAsyncDisposable
{
    /// <summary>Issues one request; throws on failure (and recovers by itself for the next call).</summary>
    ValueTask CallAsync(ReadOnlyMemory<string> values, CancellationToken cancel);
}

/// <summary>A target with a synchronous call (the in-process store): driven by dedicated threads, no async machinery.</summary>
public interface ISyncLoadTarget : ILoadTarget
{
    void Call(ReadOnlySpan<string> values);
}

/// <summary>
/// Request shape: features C1..CF ("prefix" + index), each with one value "v{k}", k uniform in [0, Cardinality), or
/// with <see cref="Zipf"/> skewed as the synthetic generator skews ranks: feature f's k follows a power law with the
/// generator's exponent s_f in [1.05, 1.40] (<see cref="RecsysEmbed.Data.Synthetic.SyntheticSchemas.DefaultExponent"/>),
/// drawn as floor(x) - 1 of the continuous density x^-s on [1, Cardinality + 1) by inversion.
/// </summary>
public sealed record LoadShape(int Features = 26, int Cardinality = 10_000, string Prefix = "C")
{
    public bool Zipf { get; init; }
    /// <summary>gRPC targets ask for packed answers (every vector in one bytes block, as Redis returns raw values).</summary>
    public bool Packed { get; init; }
    /// <summary>gRPC targets send compact requests (features by model position, values as one UTF-8 block).</summary>
    public bool Compact { get; init; }

    /// <summary>
    /// Pre-drawn value indices per feature (<paramref name="length"/> each, a power of two), so callers draw a skewed
    /// request by indexing (no pow() per value inside the measured loop).
    /// </summary>
    /// <summary>A response that does not answer every feature of the request is an error, never a fast success.</summary>
    public static void Check(RecsysEmbed.Serving.Protos.LookupResponse response, RecsysEmbed.Serving.Protos.LookupRequest request)
    {
        int answered = request.Packed ? response.Dims.Count : response.Features.Count;
        int asked = request.Compact?.Features.Count ?? request.Features.Count;
        if (answered != asked || (request.Packed && response.Packed.Length == 0 && asked > 0))
            throw new InvalidDataException($"the response answers {answered} of the request's {asked} features.");
    }

    public int[][] DrawZipf(int length, ulong seed)
    {
        var random = new Random((int)(seed * 104729 % int.MaxValue));
        var rings = new int[Features][];
        for (int f = 0; f < Features; f++)
        {
            double s = RecsysEmbed.Data.Synthetic.SyntheticSchemas.DefaultExponent(f), a = 1 - s;
            double top = Math.Pow(Cardinality + 1.0, a) - 1;
            rings[f] = new int[length];
            for (int i = 0; i < length; i++)
            {
                double x = Math.Pow(1 + random.NextDouble() * top, 1 / a);
                rings[f][i] = (int)Math.Clamp(Math.Floor(x) - 1, 0, Cardinality - 1);
            }
        }
        return rings;
    }

    /// <summary>How a gRPC target's name shows the request options.</summary>
    public string Label() => (Packed, Compact) switch
    {
        (true, true) => " (packed, compact)",
        (true, false) => " (packed)",
        (false, true) => " (compact)",
        _ => "",
    };

    public string FeatureName(int f) => Prefix + (f + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
    public static string Value(int k) => "v" + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
    /// <summary>All values of a feature, made once so callers allocate nothing per request.</summary>
    public string[] Values() => Enumerable.Range(0, Cardinality).Select(Value).ToArray();
    /// <summary>Redis key of a feature's value (same keys in the fill and in the MGETs).</summary>
    public string RedisKey(int f, string value) => $"emb:{FeatureName(f)}:{value}";
}
