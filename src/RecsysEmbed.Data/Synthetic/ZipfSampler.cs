using RecsysEmbed.Core.Hashing;
namespace RecsysEmbed.Data.Synthetic;

/// <summary>
/// Draws ranks k in [1, n] with P(k) proportional to k^-s (s > 0), in O(1) expected time and O(1) memory for any n
/// up to 2^32, so a 10^8-value feature needs no table.
/// <list type="bullet">
/// <item>n &lt;= <see cref="AliasLimit"/>: Walker/Vose alias table (one 64-bit draw, one compare).</item>
/// <item>larger n: rejection-inversion (W. Hörmann and G. Derflinger, "Rejection-inversion to generate variates
/// from monotone discrete distributions", ACM TOMACS 6(3), 1996), as in Apache Commons RNG's
/// RejectionInversionZipfSampler: invert the integral H of the continuous hat h(x) = x^-s, round to the nearest
/// integer, accept with a cheap squeeze (most draws) or the exact test.</item>
/// </list>
/// Immutable after construction; safe to share across threads (the generator is passed in).
/// </summary>
internal sealed class ZipfSampler
{
    public const long AliasLimit = 1 << 16;

    private readonly long _n;
    private readonly double _s;
    private readonly uint[]? _threshold;
    private readonly int[]? _alias;
    private readonly double _hIntegralX1, _hIntegralN, _squeeze;

    public ZipfSampler(long n, double exponent)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (!(exponent > 0) || !double.IsFinite(exponent)) throw new ArgumentOutOfRangeException(nameof(exponent), exponent, "the Zipf exponent must be > 0.");
        _n = n;
        _s = exponent;
        if (n <= AliasLimit)
        {
            (_threshold, _alias) = BuildAlias((int)n, exponent);
            return;
        }
        _hIntegralX1 = HIntegral(1.5) - 1.0;
        _hIntegralN = HIntegral(n + 0.5);
        _squeeze = 2.0 - HIntegralInverse(HIntegral(2.5) - H(2));
    }

    public long Cardinality => _n;
    public double Exponent => _s;

    public long Sample(ref SplitMix64 rng)
    {
        if (_threshold != null)
        {
            ulong r = rng.Next();
            int i = (int)(((r >> 32) * (ulong)_n) >> 32);
            return ((uint)r < _threshold[i] ? i : _alias![i]) + 1;
        }
        while (true)
        {
            double u = _hIntegralN + rng.NextDouble() * (_hIntegralX1 - _hIntegralN);
            double x = HIntegralInverse(u);
            long k = (long)(x + 0.5);
            if (k < 1) k = 1;
            else if (k > _n) k = _n;
            if (k - x <= _squeeze || u >= HIntegral(k + 0.5) - H(k)) return k;
        }
    }

    // H(x) = integral of h = (x^(1-s) - 1) / (1 - s), written to stay accurate as s -> 1.
    private double HIntegral(double x)
    {
        double logX = Math.Log(x);
        return Helper2((1.0 - _s) * logX) * logX;
    }

    private double H(double x) => Math.Exp(-_s * Math.Log(x));

    private double HIntegralInverse(double x)
    {
        double t = x * (1.0 - _s);
        if (t < -1.0) t = -1.0; // guards rounding at the upper end
        return Math.Exp(Helper1(t) * x);
    }

    // log(1 + x) / x, accurate near 0.
    private static double Helper1(double x)
    {
        if (Math.Abs(x) > 1e-8)
        {
            double u = 1.0 + x;
            return u == 1.0 ? 1.0 : Math.Log(u) / (u - 1.0); // Goldberg's log1p(x)/x = log(u)/(u-1)
        }
        return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
    }

    // (exp(x) - 1) / x, accurate near 0.
    private static double Helper2(double x)
    {
        if (Math.Abs(x) > 1e-8)
        {
            double u = Math.Exp(x);
            if (u == 1.0) return 1.0;
            double um1 = u - 1.0;
            return um1 == -1.0 ? -1.0 / x : um1 / Math.Log(u); // Kahan's expm1(x)/x = (u-1)/log(u)
        }
        return 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
    }

    private static (uint[] Threshold, int[] Alias) BuildAlias(int n, double s)
    {
        var p = new double[n];
        double sum = 0;
        for (int k = 0; k < n; k++) sum += p[k] = Math.Pow(k + 1, -s);
        var threshold = new uint[n];
        var alias = new int[n];
        var small = new Stack<int>();
        var large = new Stack<int>();
        for (int k = 0; k < n; k++)
        {
            p[k] = p[k] / sum * n;
            (p[k] < 1.0 ? small : large).Push(k);
        }
        while (small.Count > 0 && large.Count > 0)
        {
            int l = small.Pop(), g = large.Pop();
            threshold[l] = ToThreshold(p[l]);
            alias[l] = g;
            p[g] = p[g] + p[l] - 1.0;
            (p[g] < 1.0 ? small : large).Push(g);
        }
        foreach (var k in large.Concat(small))
        {
            threshold[k] = uint.MaxValue;
            alias[k] = k;
        }
        return (threshold, alias);
    }

    private static uint ToThreshold(double p) => p >= 1.0 ? uint.MaxValue : (uint)(p * 4294967296.0);
}
