using System.Runtime.CompilerServices;

namespace RecsysEmbed.Data.Transforms;

/// <summary>How a raw dense value is scaled before optional standardisation.</summary>
public enum DenseScaling
{
    /// <summary>x as is (missing = 0).</summary>
    None,

    /// <summary>
    /// log(1 + max(x, 0)) (missing = 0). Negative counts are clamped to 0 first, as DLRM does for Criteo
    /// (I2 has small negative values); the sign is not kept.
    /// </summary>
    Log1p,
}

/// <summary>
/// The per-value dense pipeline a reader applies, in order:
/// <code>
///   raw (NaN when the field is empty)
///     -> missing ? 0 : scale(raw)                  scale = identity or log(1 + max(x, 0))
///     -> standardise ? (v - mean[d]) / std[d] : v  statistics from a first pass (DenseStatistics.Compute)
/// </code>
/// Missing values become 0 before standardisation, so the first pass must use the same transform without
/// standardisation (its mean then includes the zeros of missing values).
/// </summary>
public sealed record DenseTransform(DenseScaling Scaling, DenseStatistics? Standardization = null)
{
    public static DenseTransform None { get; } = new(DenseScaling.None);
    public static DenseTransform Log1p { get; } = new(DenseScaling.Log1p);

    /// <summary>The same scaling followed by standardisation with <paramref name="statistics"/>.</summary>
    public DenseTransform WithStandardization(DenseStatistics statistics) => this with { Standardization = statistics };

    /// <summary>The transformed value of dense feature <paramref name="feature"/>; NaN raw means missing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Apply(int feature, double raw)
    {
        double v = Scale(Scaling, raw);
        if (Standardization is { } s) v = (v - s.Mean[feature]) * s.InverseStdDev[feature];
        return (float)v;
    }

    /// <summary>The scaling step alone (missing = NaN maps to 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Scale(DenseScaling scaling, double raw)
    {
        if (double.IsNaN(raw)) return 0;
        return scaling switch
        {
            DenseScaling.Log1p => Math.Log(1 + Math.Max(raw, 0)),
            _ => raw,
        };
    }

    internal void Validate(int denseCount)
    {
        if (Standardization != null && Standardization.FeatureCount != denseCount)
            throw new ArgumentException(
                $"standardisation statistics cover {Standardization.FeatureCount} dense features, but the schema has {denseCount}.",
                nameof(Standardization));
    }
}
