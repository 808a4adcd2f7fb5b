namespace RecsysEmbed.Training.Metrics;

/// <summary>
/// Log loss, normalised entropy and calibration of probability predictions against 0/1 labels
/// (formulas on <see cref="CtrSummary"/>). Predictions must lie in [0, 1]; they are clamped to
/// [<see cref="Epsilon"/>, 1 - <see cref="Epsilon"/>] inside the logarithms only, so a confident wrong
/// prediction costs at most -log(1e-7) ~ 16.1 nats. Sums run in double.
/// </summary>
public static class CtrLoss
{
    /// <summary>Clamp applied to probabilities inside log loss.</summary>
    public const double Epsilon = 1e-7;

    /// <summary>All loss-side metrics in one pass.</summary>
    /// <exception cref="ArgumentException">Lengths differ, a prediction is NaN or outside [0, 1], or a label is not 0 or 1.</exception>
    public static CtrSummary Summarize(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
    {
        MetricInput.Validate(predictions, labels, probabilities: true);
        var acc = new CtrAccumulator();
        acc.Add(predictions, labels);
        return acc.Summary;
    }

    /// <summary>Mean clamped binary cross-entropy in nats; NaN when empty.</summary>
    public static double LogLoss(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels) => Summarize(predictions, labels).LogLoss;

    /// <summary>Log loss over the entropy of the observed CTR; NaN when all labels agree.</summary>
    public static double NormalizedEntropy(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels) => Summarize(predictions, labels).NormalizedEntropy;

    /// <summary>Mean prediction over observed CTR; NaN when there are no positives.</summary>
    public static double Calibration(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels) => Summarize(predictions, labels).Calibration;

    /// <summary>H(c) = -(c ln c + (1 - c) ln(1 - c)), with 0 ln 0 = 0; NaN for c outside [0, 1].</summary>
    public static double BinaryEntropy(double c)
    {
        if (!(c >= 0 && c <= 1)) return double.NaN;
        if (c == 0 || c == 1) return 0;
        return -(c * Math.Log(c) + (1 - c) * Math.Log(1 - c));
    }
}
