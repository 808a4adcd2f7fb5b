namespace RecsysEmbed.Training.Metrics;

/// <summary>
/// Running sums behind <see cref="CtrSummary"/>: count, positives, sum of per-sample log loss and sum of
/// predictions. The two float sums are compensated (Neumaier), so a cumulative log loss over billions of samples
/// matches a one-shot computation to about 1e-15 relative instead of drifting with n * 1e-16.
/// Inputs must already be validated (<see cref="MetricInput.Validate"/> with probabilities).
/// </summary>
internal struct CtrAccumulator
{
    private long _count, _positives;
    private CompensatedSum _logLoss, _predictions;

    public void Add(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
    {
        for (int i = 0; i < predictions.Length; i++)
        {
            double p = Math.Clamp((double)predictions[i], CtrLoss.Epsilon, 1 - CtrLoss.Epsilon);
            bool positive = labels[i] != 0f;
            _logLoss.Add(positive ? -Math.Log(p) : -Math.Log(1 - p));
            _predictions.Add(predictions[i]);
            if (positive) _positives++;
        }
        _count += predictions.Length;
    }

    public readonly CtrSummary Summary => _count == 0
        ? new CtrSummary(0, 0, double.NaN, double.NaN)
        : new CtrSummary(_count, _positives, _logLoss.Value / _count, _predictions.Value / _count);

    public void Reset() => this = default;

    /// <summary>Neumaier's variant of Kahan summation: exact-ish sums whatever the order of magnitudes.</summary>
    private struct CompensatedSum
    {
        private double _sum, _compensation;

        public void Add(double x)
        {
            double t = _sum + x;
            _compensation += Math.Abs(_sum) >= Math.Abs(x) ? (_sum - t) + x : (x - t) + _sum;
            _sum = t;
        }

        public readonly double Value => _sum + _compensation;
    }
}
