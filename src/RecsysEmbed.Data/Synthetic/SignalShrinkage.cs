using System.Runtime.CompilerServices;

namespace RecsysEmbed.Data.Synthetic;

/// <summary>
/// Per-feature scale of the planted effects by popularity rank k (0-based) under Zipf(n, a):
/// <code>
///   P(k)    = (k + 1)^-a / H,   H = sum_{j=1..n} j^-a
///   n(k)    = R * P(k)                      expected sightings in R rows
///   s(k)^2  = [n(k) / (n(k) + c)] / E_P[n / (n + c)]
/// </code>
/// The head is tabulated; the tail uses the formula. The normaliser E_P is summed exactly over the tabulated head
/// and integrated (Simpson in log k) over the tail, which is smooth and monotone there.
/// </summary>
internal sealed class SignalShrinkage
{
    private const int TableSize = 1 << 16;

    public static readonly SignalShrinkage None = new(null, 0, 0, 0, 1);

    private readonly double[]? _head;
    private readonly double _exponent, _countScale, _halfCount, _inverseNorm;

    private SignalShrinkage(double[]? head, double exponent, double countScale, double halfCount, double inverseNorm)
    {
        _head = head;
        _exponent = exponent;
        _countScale = countScale;
        _halfCount = halfCount;
        _inverseNorm = inverseNorm;
    }

    public static SignalShrinkage Create(long cardinality, double exponent, double halfCount, double referenceRows)
    {
        if (halfCount <= 0 || cardinality < 1) return None;
        double a = exponent;
        int headCount = (int)Math.Min(cardinality, TableSize);
        double harmonicHead = 0;
        for (int k = 1; k <= headCount; k++) harmonicHead += Math.Pow(k, -a);
        double harmonic = harmonicHead + TailIntegral(headCount, cardinality, x => Math.Pow(x, -a));
        double countScale = referenceRows / harmonic;            // n(k) = countScale * (k + 1)^-a

        double Fraction(double rank1) { double n = countScale * Math.Pow(rank1, -a); return n / (n + halfCount); }
        var head = new double[headCount];
        double mean = 0;
        for (int k = 0; k < headCount; k++)
        {
            head[k] = Fraction(k + 1);
            mean += Math.Pow(k + 1, -a) / harmonic * head[k];
        }
        mean += TailIntegral(headCount, cardinality, x => Math.Pow(x, -a) / harmonic * Fraction(x));
        double inverseNorm = 1 / Math.Sqrt(mean);
        for (int k = 0; k < headCount; k++) head[k] = Math.Sqrt(head[k]) * inverseNorm;
        return new SignalShrinkage(head, a, countScale, halfCount, inverseNorm);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double Scale(long rank)
    {
        if (_head is null) return 1;
        if ((ulong)rank < (ulong)_head.Length) return _head[rank];
        double n = _countScale * Math.Exp(-_exponent * Math.Log(rank + 1.0));
        return Math.Sqrt(n / (n + _halfCount)) * _inverseNorm;
    }

    // sum_{k=from+1..to} g(k) ~ integral of g over [from + 0.5, to + 0.5], by Simpson's rule in u = ln x.
    private static double TailIntegral(long from, long to, Func<double, double> g)
    {
        if (to <= from) return 0;
        double u0 = Math.Log(from + 0.5), u1 = Math.Log(to + 0.5);
        const int Steps = 512;
        double h = (u1 - u0) / Steps, sum = 0;
        for (int i = 0; i <= Steps; i++)
        {
            double u = u0 + i * h, x = Math.Exp(u);
            double weight = i == 0 || i == Steps ? 1 : i % 2 == 1 ? 4 : 2;
            sum += weight * g(x) * x;                            // dx = x du
        }
        return sum * h / 3;
    }
}
