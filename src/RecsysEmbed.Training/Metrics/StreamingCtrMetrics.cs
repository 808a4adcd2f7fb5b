namespace RecsysEmbed.Training.Metrics;

/// <summary>What <see cref="StreamingCtrMetrics.Snapshot"/> reports.</summary>
/// <param name="Cumulative">Exact log loss, NE and calibration over every sample so far.</param>
/// <param name="WindowSamples">Samples in the sliding window (at most its capacity).</param>
/// <param name="WindowAuc">Exact AUC of the last <paramref name="WindowSamples"/> samples; NaN with one class.</param>
/// <param name="CumulativeAuc">Histogram AUC over every sample so far, with its hard error bound.</param>
public readonly record struct StreamingCtrSnapshot(CtrSummary Cumulative, int WindowSamples, double WindowAuc, AucEstimate CumulativeAuc);

/// <summary>
/// Progressive (online) CTR evaluation: feed each batch's predictions before training on it, read a snapshot
/// whenever a report is due.
/// <code>
///   Add(batch)  --+--> CtrAccumulator     exact cumulative log loss / NE / calibration   O(1) memory
///                 +--> SlidingWindowAuc   exact AUC of the last WindowSize samples         16 B per slot
///                 +--> HistogramAuc       approximate cumulative AUC, hard error bound     16 B per bin
/// </code>
/// All memory is allocated in the constructor; <see cref="Add"/> allocates nothing. A batch is validated as a
/// whole first (lengths, predictions in [0, 1], labels 0 or 1), so a bad batch changes nothing.
/// <see cref="Snapshot"/> costs O(WindowSize log WindowSize + Bins). Not thread-safe.
/// </summary>
public sealed class StreamingCtrMetrics
{
    private CtrAccumulator _cumulative;

    /// <param name="windowSize">Samples in the exact sliding-window AUC (default 2^17 = 131 072).</param>
    /// <param name="histogramBins">Bins of the cumulative AUC histogram over [0, 1] (default 10^5).</param>
    public StreamingCtrMetrics(int windowSize = 1 << 17, int histogramBins = 100_000)
    {
        Window = new SlidingWindowAuc(windowSize);
        Histogram = new HistogramAuc(histogramBins);
    }

    public SlidingWindowAuc Window { get; }
    public HistogramAuc Histogram { get; }

    /// <summary>Exact cumulative loss-side metrics; O(1).</summary>
    public CtrSummary Cumulative => _cumulative.Summary;

    /// <exception cref="ArgumentException">Bad input; no metric changes.</exception>
    public void Add(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
    {
        MetricInput.Validate(predictions, labels, probabilities: true);
        _cumulative.Add(predictions, labels);
        Window.AddValidated(predictions, labels);
        Histogram.AddValidated(predictions, labels);
    }

    public StreamingCtrSnapshot Snapshot() => new(_cumulative.Summary, Window.Count, Window.Compute(), Histogram.Compute());

    public void Reset()
    {
        _cumulative.Reset();
        Window.Reset();
        Histogram.Reset();
    }
}
