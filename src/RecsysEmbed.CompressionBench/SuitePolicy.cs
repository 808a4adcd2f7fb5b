namespace RecsysEmbed.CompressionBench;

/// <summary>
/// How the hash, multihash, qr and ue solvers spend a budget (<c>--policy</c>); the other methods ignore it.
/// <list type="bullet">
/// <item><see cref="Cap"/> (default): features with at most T ids keep full tables, only larger ones are compressed,
/// T the largest cap that fits.</item>
/// <item><see cref="Uniform"/>: the literature's protocol (Shi et al. 2020; Coleman et al. 2023): every feature is
/// compressed with one compression factor for all (hash, qr), or every feature shares one table (ue).</item>
/// </list>
/// </summary>
public enum SuitePolicy
{
    Cap,
    Uniform,
}

public static class SuitePolicies
{
    public static IReadOnlyList<string> Names { get; } = ["cap", "uniform"];

    /// <summary>The methods whose solver the policy changes.</summary>
    public static IReadOnlyList<string> Methods { get; } = ["hash", "multihash", "qr", "ue"];

    public static bool AppliesTo(string method) => Methods.Contains(method);

    public static string Name(this SuitePolicy policy) => policy switch
    {
        SuitePolicy.Cap => "cap",
        SuitePolicy.Uniform => "uniform",
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, "unknown policy"),
    };

    /// <summary>"cap" or "uniform"; anything else is a <see cref="SuiteInputException"/> on --policy naming the value.</summary>
    public static SuitePolicy Parse(string? text) => text?.Trim() switch
    {
        "cap" => SuitePolicy.Cap,
        "uniform" => SuitePolicy.Uniform,
        _ => throw new SuiteInputException("--policy", $"'{text}' is unknown; expected {string.Join(" or ", Names)}"),
    };

    /// <summary>One line for the summary and the report.</summary>
    public static string Describe(SuitePolicy policy) => policy switch
    {
        SuitePolicy.Cap => "cap (hash, multihash, qr, ue: features with at most T ids keep full tables, larger ones are compressed, T the largest cap that fits; other methods unaffected)",
        _ => "uniform (hash, multihash, qr: every feature compressed with one compression factor c, the smallest that fits; ue: every feature in one shared table that fills the budget; other methods unaffected)",
    };
}
