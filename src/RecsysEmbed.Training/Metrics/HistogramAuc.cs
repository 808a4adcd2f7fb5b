namespace RecsysEmbed.Training.Metrics;

/// <summary>AUC estimate with a guaranteed bound: |Auc - exact AUC| &lt;= ErrorBound.</summary>
public readonly record struct AucEstimate(double Auc, double ErrorBound);

/// <summary>
/// Approximate AUC over every sample ever added, in fixed memory: one count per bin and class over [0, 1].
/// <code>
///   bin b = floor(p * B), clamped to B - 1        (p = 1 falls in the last bin)
///   pos[b], neg[b]                                 2 * B longs (B = 100 000: 1.6 MB), allocated once
///   AUC~ = sum_b pos[b] * (negBelow[b] + neg[b] / 2) / (P * N)
/// </code>
/// <b>Error bound.</b> Binning is monotone, so every positive/negative pair in different bins is ordered exactly
/// as by the raw scores and counted exactly. Only pairs that share a bin can be wrong: they get credit 1/2, and
/// the exact AUC gives them 0, 1/2 or 1. Hence
/// <code>
///   |AUC~ - AUC| &lt;= (1/2) * sum_b pos[b] * neg[b] / (P * N)
/// </code>
/// which <see cref="Compute"/> returns with the estimate. It is a hard bound, computed from the data, not a
/// probabilistic one. If the scores of each class have densities f+ and f- on [0, 1], it tends to
/// (1 / 2B) * integral(f+ f-) &lt;= max(f-) / 2B: with 10^5 bins and CTR predictions bunched at 10x the uniform
/// density, about 5e-5. Predictions crowded into a few bins (say all below 1e-4 with B = 10^4) make the bound
/// large, and the bound says so.
/// </summary>
public sealed class HistogramAuc
{
    private readonly long[] _positives;
    private readonly long[] _negatives;

    public HistogramAuc(int bins = 100_000)
    {
        if (bins <= 0) ThrowHelper.OutOfRange(nameof(bins), bins, "histogram needs at least one bin.");
        _positives = new long[bins];
        _negatives = new long[bins];
    }

    public int Bins => _positives.Length;
    public long Positives { get; private set; }
    public long Negatives { get; private set; }

    /// <summary>Adds a batch of probabilities in [0, 1] with 0/1 labels.</summary>
    /// <exception cref="ArgumentException">Bad input; the histogram is left unchanged.</exception>
    public void Add(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
    {
        MetricInput.Validate(predictions, labels, probabilities: true);
        AddValidated(predictions, labels);
    }

    internal void AddValidated(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
    {
        int bins = _positives.Length;
        long positives = 0;
        for (int i = 0; i < predictions.Length; i++)
        {
            // Double product of p and an integer is monotone in p, so the binning is too.
            int b = Math.Min((int)(predictions[i] * (double)bins), bins - 1);
            if (labels[i] != 0f) { _positives[b]++; positives++; }
            else _negatives[b]++;
        }
        Positives += positives;
        Negatives += predictions.Length - positives;
    }

    /// <summary>Estimated AUC and its bound; both NaN while only one class has been seen.</summary>
    public AucEstimate Compute()
    {
        if (Positives == 0 || Negatives == 0) return new AucEstimate(double.NaN, double.NaN);
        // Counts can pass 2^53 products, so sums are in double: relative rounding ~1e-16, far below the bound.
        double u = 0, sameBin = 0, negativesBelow = 0;
        for (int b = 0; b < _positives.Length; b++)
        {
            double pos = _positives[b], neg = _negatives[b];
            u += pos * (negativesBelow + 0.5 * neg);
            sameBin += pos * neg;
            negativesBelow += neg;
        }
        double pairs = (double)Positives * Negatives;
        return new AucEstimate(u / pairs, 0.5 * sameBin / pairs);
    }

    public void Reset()
    {
        Array.Clear(_positives);
        Array.Clear(_negatives);
        Positives = 0;
        Negatives = 0;
    }
}
