using System.Runtime.CompilerServices;

namespace RecsysEmbed.Core.Hashing;

/// <summary>
/// SplitMix64 (Steele, Lea &amp; Flood 2014): a tiny, fast, seedable generator, for deterministic initialisation and
/// data generation. Give each parallel chunk its own, seeded from (seed, chunk index), so output does not depend on
/// thread count or scheduling.
/// </summary>
public struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15ul;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBul;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double NextDouble() => (Next() >> 11) * (1.0 / (1ul << 53));

    /// <summary>
    /// Standard normal by inversion: P. J. Acklam's rational approximation of the normal quantile (relative error
    /// below 1.2e-9), no transcendental call in the central 95%.
    /// </summary>
    public double NextGaussian()
    {
        double p = ((Next() >> 11) + 0.5) * (1.0 / (1ul << 53)); // (0, 1)
        const double low = 0.02425, high = 1 - low;
        if (p < low) return Tail(Math.Sqrt(-2 * Math.Log(p)));
        if (p > high) return -Tail(Math.Sqrt(-2 * Math.Log(1 - p)));
        double q = p - 0.5, r = q * q;
        return (((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02) * r + 1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239e+00) * q /
               (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r - 1.556989798598866e+02) * r + 6.680131188771972e+01) * r - 1.328068155288572e+01) * r + 1);
    }

    private static double Tail(double q) =>
        (((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e+00) * q - 2.549671010259089e+00) * q + 4.374664141464968e+00) * q + 2.938163982698783e+00) /
        ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q + 3.754408661907416e+00) * q + 1);
}
