namespace RecsysEmbed.Tests.Hashing;

/// <summary>Pearson's chi-square goodness-of-fit against the uniform distribution, with critical values.</summary>
internal static class ChiSquare
{
    /// <summary>Standard normal quantile at 0.999 (one-sided).</summary>
    public const double Z999 = 3.090232306167813;

    /// <summary>sum (O - E)^2 / E over the buckets, E = total / buckets.</summary>
    public static double UniformStatistic(ReadOnlySpan<long> counts)
    {
        long total = 0;
        foreach (long c in counts) total += c;
        double expected = (double)total / counts.Length;
        double stat = 0;
        foreach (long c in counts) stat += (c - expected) * (c - expected) / expected;
        return stat;
    }

    /// <summary>
    /// Wilson–Hilferty approximation of the chi-square quantile with k degrees of freedom:
    /// k (1 - 2/(9k) + z sqrt(2/(9k)))^3, z the matching normal quantile.
    /// </summary>
    public static double CriticalValue(int degreesOfFreedom, double z = Z999)
    {
        double k = degreesOfFreedom;
        double a = 2.0 / (9.0 * k);
        double t = 1 - a + z * Math.Sqrt(a);
        return k * t * t * t;
    }
}
