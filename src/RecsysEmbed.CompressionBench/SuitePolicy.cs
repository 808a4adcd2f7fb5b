namespace RecsysEmbed.CompressionBench;

/// <summary>
/// How the hash, multihash, qr, ue and ue2 solvers spend a budget (<c>--policy</c>); the other methods ignore it.
/// <list type="bullet">
/// <item><see cref="Cap"/> (default): features with at most T ids keep full tables, only larger ones are compressed,
/// T the largest cap that fits.</item>
/// <item><see cref="Uniform"/>: the literature's protocol (Shi et al. 2020; Coleman et al. 2023): every feature is
/// compressed with one compression factor for all (hash, qr), or every feature shares one table (ue).</item>
/// <item><see cref="Threshold"/>: the DLRM reference implementation's protocol (its <c>--qr-threshold</c> and
/// <c>--md-threshold</c>, default 200): features with at most <see cref="SuitePolicies.ThresholdIds"/> ids keep full
/// tables, every larger one is compressed as under <see cref="Uniform"/> (one factor for all; ue: one shared table)
/// in what the small ones leave of the budget.</item>
/// </list>
/// </summary>
public enum SuitePolicy
{
    Cap,
    Uniform,
    Threshold,
}

public static class SuitePolicies
{
    public static IReadOnlyList<string> Names { get; } = ["cap", "uniform", "threshold"];

    /// <summary>Under <see cref="SuitePolicy.Threshold"/>, features with at most this many ids keep full tables (the DLRM reference's default).</summary>
    public const long ThresholdIds = 200;

    /// <summary>Features with at most this many ids keep full tables under a factor policy (uniform: none; threshold: <see cref="ThresholdIds"/>).</summary>
    public static long KeptFullUpTo(this SuitePolicy policy) => policy == SuitePolicy.Threshold ? ThresholdIds : 0;

    /// <summary>
    /// What a factor policy (uniform, threshold) does with the model's features: those with at most
    /// <see cref="KeptFullUpTo"/> ids keep full tables (taking <c>KeptRows</c> rows of the budget), the others are compressed.
    /// </summary>
    public static (List<SuiteFeature> Kept, List<SuiteFeature> Compressed, long KeptRows) SplitForFactor(this SuitePolicy policy, SuiteModel model)
    {
        long keepFull = policy.KeptFullUpTo();
        var kept = model.Sparse.Where(f => f.Cardinality <= keepFull).ToList();
        return (kept, model.Sparse.Where(f => f.Cardinality > keepFull).ToList(), kept.Sum(f => f.Cardinality));
    }

    /// <summary>Uniform and threshold solve one compression factor for the features they compress.</summary>
    public static bool IsFactorPolicy(this SuitePolicy policy) => policy is SuitePolicy.Uniform or SuitePolicy.Threshold;

    /// <summary>The methods whose solver the policy changes.</summary>
    public static IReadOnlyList<string> Methods { get; } = ["hash", "multihash", "qr", "ue", "ue2"];

    public static bool AppliesTo(string method) => Methods.Contains(method);

    public static string Name(this SuitePolicy policy) => policy switch
    {
        SuitePolicy.Cap => "cap",
        SuitePolicy.Uniform => "uniform",
        SuitePolicy.Threshold => "threshold",
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, "unknown policy"),
    };

    /// <summary>"cap", "uniform" or "threshold"; anything else is a <see cref="SuiteInputException"/> on --policy naming the value.</summary>
    public static SuitePolicy Parse(string? text) => text?.Trim() switch
    {
        "cap" => SuitePolicy.Cap,
        "uniform" => SuitePolicy.Uniform,
        "threshold" => SuitePolicy.Threshold,
        _ => throw new SuiteInputException("--policy", $"'{text}' is unknown; expected {string.Join(" or ", Names)}"),
    };

    /// <summary>One line for the summary and the report.</summary>
    public static string Describe(SuitePolicy policy) => policy switch
    {
        SuitePolicy.Cap => "cap (hash, multihash, qr, ue, ue2: features with at most T ids keep full tables, larger ones are compressed, T the largest cap that fits; other methods unaffected)",
        SuitePolicy.Uniform => "uniform (hash, multihash, qr: every feature compressed with one compression factor c, the smallest that fits; ue, ue2: every feature in one shared table that fills the budget; other methods unaffected)",
        _ => $"threshold (as the DLRM reference's --qr-threshold: features with at most {ThresholdIds} ids keep full tables; hash, multihash, qr: every larger feature compressed with one compression factor c, the smallest that fits; ue, ue2: the larger features in one shared table that fills the rest of the budget; other methods unaffected)",
    };
}
