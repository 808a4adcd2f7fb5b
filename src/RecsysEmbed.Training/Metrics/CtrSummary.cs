namespace RecsysEmbed.Training.Metrics;

/// <summary>
/// Loss-side CTR metrics of a set of samples, derived from four sums:
/// <code>
///   Ctr               = Positives / Count                               (observed click rate, the base rate)
///   LogLoss           = -(1/n) * sum( y log p + (1 - y) log(1 - p) )     p clamped to [1e-7, 1 - 1e-7]
///   NormalizedEntropy = LogLoss / H(Ctr),  H(c) = -(c log c + (1 - c) log(1 - c))     (natural logs)
///   Calibration       = MeanPrediction / Ctr                             (1 = calibrated, > 1 over-predicts)
/// </code>
/// Undefined values are <see cref="double.NaN"/>: everything when Count is 0; NormalizedEntropy when all labels
/// agree (H = 0); Calibration when there are no positives.
/// </summary>
public readonly record struct CtrSummary(long Count, long Positives, double LogLoss, double MeanPrediction)
{
    public double Ctr => Count == 0 ? double.NaN : (double)Positives / Count;

    public double NormalizedEntropy
    {
        get
        {
            double h = CtrLoss.BinaryEntropy(Ctr);
            return h > 0 ? LogLoss / h : double.NaN;
        }
    }

    public double Calibration => Positives == 0 ? double.NaN : MeanPrediction / Ctr;
}
