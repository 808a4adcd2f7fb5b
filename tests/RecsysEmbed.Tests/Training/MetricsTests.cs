using RecsysEmbed.Training.Metrics;

namespace RecsysEmbed.Tests.Training;

public class MetricsTests
{
    // ---- Exact AUC: hand-computed cases ----

    [Fact]
    public void Auc_HandComputed_ThreeOfFourPairsOrdered()
    {
        // Positives {0.35, 0.8}, negatives {0.1, 0.4}. Pairs (pos, neg):
        //   (0.35, 0.1) right, (0.35, 0.4) wrong, (0.8, 0.1) right, (0.8, 0.4) right  ->  3 / 4 = 0.75
        Assert.Equal(0.75, Auc.Exact([0.1f, 0.4f, 0.35f, 0.8f], [0, 0, 1, 1]));
    }

    [Fact]
    public void Auc_HandComputed_TieCountsHalf()
    {
        // Positives {0.5, 0.9}, negatives {0.5, 0.2}. Pairs: (0.5, 0.5) tie 1/2, (0.5, 0.2) 1, (0.9, 0.5) 1, (0.9, 0.2) 1
        //   -> 3.5 / 4 = 0.875. Average ranks agree: 0.2 -> 1, 0.5 and 0.5 -> 2.5, 0.9 -> 4;
        //   positive rank sum 2.5 + 4 = 6.5; U = 6.5 - P(P+1)/2 = 6.5 - 3 = 3.5.
        Assert.Equal(0.875, Auc.Exact([0.5f, 0.5f, 0.2f, 0.9f], [1, 0, 0, 1]));
    }

    [Fact]
    public void Auc_AllPredictionsEqual_IsOneHalf()
    {
        // Every pair ties: P * N / 2 / (P * N).
        var predictions = Enumerable.Repeat(0.3f, 9).ToArray();
        float[] labels = [1, 0, 0, 1, 0, 1, 1, 0, 0];
        Assert.Equal(0.5, Auc.Exact(predictions, labels));
    }

    [Fact]
    public void Auc_PerfectAndInvertedRanking_AreOneAndZero()
    {
        Assert.Equal(1.0, Auc.Exact([0.1f, 0.2f, 0.7f, 0.9f], [0, 0, 1, 1]));
        Assert.Equal(0.0, Auc.Exact([0.9f, 0.7f, 0.2f, 0.1f], [0, 0, 1, 1]));
    }

    [Fact]
    public void Auc_AcceptsLogitsAndTreatsSignedZerosAsTied()
    {
        // Negative scores order correctly: positives {-0.5, 3}, negatives {-2, 1}: pairs right, wrong, right, right -> 0.75.
        Assert.Equal(0.75, Auc.Exact([-2f, 1f, -0.5f, 3f], [0, 0, 1, 1]));
        // -0 and +0 are the same score: one tied pair -> 0.5.
        Assert.Equal(0.5, Auc.Exact([-0f, 0f], [1, 0]));
    }

    [Fact]
    public void Auc_OneClassOrEmpty_IsNaN()
    {
        Assert.True(double.IsNaN(Auc.Exact([0.1f, 0.9f], [1, 1])));
        Assert.True(double.IsNaN(Auc.Exact([0.1f, 0.9f], [0, 0])));
        Assert.True(double.IsNaN(Auc.Exact([], [])));
    }

    [Fact]
    public void Auc_ThrowsForBadInput()
    {
        Assert.Throws<ArgumentException>(() => Auc.Exact([0.1f, 0.2f], [1]));
        var nan = Assert.Throws<ArgumentException>(() => Auc.Exact([0.1f, float.NaN], [1, 0]));
        Assert.Contains("predictions[1]", nan.Message);
        var label = Assert.Throws<ArgumentException>(() => Auc.Exact([0.1f, 0.2f], [1, 0.5f]));
        Assert.Contains("labels[1] = 0.5", label.Message);
    }

    [Theory]
    [InlineData(1, 7)]
    [InlineData(2, 200)]
    [InlineData(3, 1001)]
    [InlineData(4, 3000)]
    public void Auc_MatchesBruteForcePairCount_WithManyTies(int seed, int n)
    {
        var rng = new Random(seed);
        var (predictions, labels) = TiedSamples(rng, n, levels: 11);
        double expected = BruteForceAuc(predictions, labels);
        Assert.Equal(expected, Auc.Exact(predictions, labels), 12);
    }

    [Fact]
    public void Auc_MatchesBruteForce_OnContinuousLogits()
    {
        var rng = new Random(5);
        const int n = 1500;
        var predictions = new float[n];
        var labels = new float[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = rng.NextDouble() < 0.3 ? 1 : 0;
            predictions[i] = (float)(rng.NextDouble() * 8 - 4 + labels[i]);
        }
        Assert.Equal(BruteForceAuc(predictions, labels), Auc.Exact(predictions, labels), 12);
    }

    // ---- Log loss, NE, calibration ----

    [Fact]
    public void LogLoss_NE_Calibration_HandComputed()
    {
        // p = [0.9, 0.2], y = [1, 0]:
        //   log loss    = -(ln 0.9 + ln 0.8) / 2 = (0.1053605 + 0.2231436) / 2 = 0.1642520
        //   CTR         = 1/2, H(1/2) = ln 2 = 0.6931472  ->  NE = 0.1642520 / 0.6931472 = 0.2369656
        //   calibration = mean p / CTR = 0.55 / 0.5 = 1.1
        // (0.9f and 0.2f are not exact in float32, hence 6 digits.)
        float[] p = [0.9f, 0.2f], y = [1, 0];
        var s = CtrLoss.Summarize(p, y);
        Assert.Equal(0.1642520, s.LogLoss, 6);
        Assert.Equal(0.2369656, s.NormalizedEntropy, 6);
        Assert.Equal(1.1, s.Calibration, 6);
        Assert.Equal(0.5, s.Ctr);
        Assert.Equal(2, s.Count);
        Assert.Equal(1, s.Positives);
        Assert.Equal(s.LogLoss, CtrLoss.LogLoss(p, y));
        Assert.Equal(s.NormalizedEntropy, CtrLoss.NormalizedEntropy(p, y));
        Assert.Equal(s.Calibration, CtrLoss.Calibration(p, y));
    }

    [Fact]
    public void LogLoss_ClampsProbabilitiesAtEpsilon()
    {
        // p = 0 for a positive costs -ln(1e-7) = 16.1180957, not infinity; p = 1 for a positive costs -ln(1 - 1e-7) ~ 1e-7.
        Assert.Equal(16.1180957, CtrLoss.LogLoss([0f], [1]), 6);
        Assert.Equal(1e-7, CtrLoss.LogLoss([1f], [1]), 9);
        Assert.Equal(16.1180957, CtrLoss.LogLoss([1f], [0]), 6);
    }

    [Fact]
    public void NE_And_Calibration_UndefinedCasesAreNaN()
    {
        Assert.True(double.IsNaN(CtrLoss.NormalizedEntropy([0.2f, 0.4f], [0, 0])));   // H(0) = 0
        Assert.True(double.IsNaN(CtrLoss.NormalizedEntropy([0.2f, 0.4f], [1, 1])));   // H(1) = 0
        Assert.True(double.IsNaN(CtrLoss.Calibration([0.2f, 0.4f], [0, 0])));         // no positives
        var empty = CtrLoss.Summarize([], []);
        Assert.True(double.IsNaN(empty.LogLoss) && double.IsNaN(empty.Ctr) && double.IsNaN(empty.NormalizedEntropy));
    }

    [Fact]
    public void LogLoss_RejectsNonProbabilities()
    {
        var e = Assert.Throws<ArgumentException>(() => CtrLoss.LogLoss([0.5f, 2.5f], [1, 0]));
        Assert.Contains("predictions[1] = 2.5", e.Message);
        Assert.Throws<ArgumentException>(() => CtrLoss.LogLoss([float.NaN], [1]));
    }

    [Fact]
    public void LossMetrics_MatchDirectFormulas_OnRandomData()
    {
        var rng = new Random(11);
        var (p, y) = ProbabilitySamples(rng, 2000, ctr: 0.1);
        double sumLoss = 0, sumP = 0;
        int positives = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double q = Math.Clamp(p[i], 1e-7, 1 - 1e-7);
            sumLoss += y[i] == 1 ? -Math.Log(q) : -Math.Log(1 - q);
            sumP += p[i];
            positives += (int)y[i];
        }
        double logLoss = sumLoss / p.Length, ctr = (double)positives / p.Length;
        double entropy = -(ctr * Math.Log(ctr) + (1 - ctr) * Math.Log(1 - ctr));

        var s = CtrLoss.Summarize(p, y);
        Assert.Equal(logLoss, s.LogLoss, 12);
        Assert.Equal(logLoss / entropy, s.NormalizedEntropy, 12);
        Assert.Equal(sumP / p.Length / ctr, s.Calibration, 12);
    }

    // ---- Streaming ----

    [Fact]
    public void SlidingWindow_EqualsExactAucOfLastN_AfterEveryBatch()
    {
        var rng = new Random(21);
        const int window = 97;
        var (p, y) = TiedSamples(rng, 2500, levels: 7);
        var auc = new SlidingWindowAuc(window);
        int seen = 0;
        while (seen < p.Length)
        {
            // Batch sizes from 1 to 2.5x the window, so batches both fill it partly and overrun it.
            int batch = Math.Min(p.Length - seen, 1 + rng.Next(window * 5 / 2));
            auc.Add(p.AsSpan(seen, batch), y.AsSpan(seen, batch));
            seen += batch;
            int start = Math.Max(0, seen - window);
            Assert.Equal(seen - start, auc.Count);
            Assert.Equal(Auc.Exact(p.AsSpan(start, seen - start), y.AsSpan(start, seen - start)), auc.Compute());
        }
    }

    [Fact]
    public void SlidingWindow_BeforeBothClasses_IsNaN()
    {
        var auc = new SlidingWindowAuc(4);
        Assert.True(double.IsNaN(auc.Compute()));
        auc.Add([0.1f, 0.2f], [0, 0]);
        Assert.True(double.IsNaN(auc.Compute()));
        auc.Add([0.3f], [1]);
        Assert.Equal(1.0, auc.Compute());
        auc.Add([0.3f, 0.3f, 0.3f, 0.3f], [1, 1, 1, 1]); // pushes every negative out
        Assert.True(double.IsNaN(auc.Compute()));
    }

    [Theory]
    [InlineData(100)]
    [InlineData(1_000)]
    [InlineData(10_000)]
    public void HistogramAuc_IsWithinItsBoundOfExact(int bins)
    {
        var rng = new Random(bins);
        var (p, y) = ProbabilitySamples(rng, 20_000, ctr: 0.05);
        var histogram = new HistogramAuc(bins);
        for (int start = 0; start < p.Length; start += 1000)
            histogram.Add(p.AsSpan(start, 1000), y.AsSpan(start, 1000));

        double exact = Auc.Exact(p, y);
        var estimate = histogram.Compute();
        Assert.True(Math.Abs(estimate.Auc - exact) <= estimate.ErrorBound + 1e-12,
            $"|{estimate.Auc} - {exact}| > bound {estimate.ErrorBound}");
        // The bound shrinks like 1/bins for spread-out predictions.
        Assert.True(estimate.ErrorBound < 5.0 / bins, $"bound {estimate.ErrorBound} for {bins} bins");
    }

    [Fact]
    public void HistogramAuc_CrowdedPredictions_BoundStillHolds()
    {
        // Every prediction below 1e-3 with 100 bins: all land in bin 0, the estimate is 1/2 and the bound 1/2 says so.
        var rng = new Random(3);
        var p = new float[500];
        var y = new float[500];
        for (int i = 0; i < p.Length; i++)
        {
            y[i] = i % 5 == 0 ? 1 : 0;
            p[i] = (float)(rng.NextDouble() * 1e-3 * (1 + y[i]));
        }
        var histogram = new HistogramAuc(100);
        histogram.Add(p, y);
        var estimate = histogram.Compute();
        Assert.Equal(0.5, estimate.Auc);
        Assert.Equal(0.5, estimate.ErrorBound);
        Assert.True(Math.Abs(estimate.Auc - Auc.Exact(p, y)) <= estimate.ErrorBound);
    }

    [Fact]
    public void HistogramAuc_ScoresInDistinctBins_IsExact()
    {
        // 10 bins; every score in its own bin, so no pair shares one: bound 0, estimate = exact = 0.75.
        var histogram = new HistogramAuc(10);
        float[] p = [0.15f, 0.45f, 0.35f, 0.85f], y = [0, 0, 1, 1];
        histogram.Add(p, y);
        Assert.Equal(new AucEstimate(0.75, 0), histogram.Compute());
        Assert.Equal(Auc.Exact(p, y), histogram.Compute().Auc);
    }

    [Fact]
    public void StreamingMetrics_MatchOneShotMetrics()
    {
        var rng = new Random(31);
        var (p, y) = ProbabilitySamples(rng, 5000, ctr: 0.2);
        var metrics = new StreamingCtrMetrics(windowSize: 1000, histogramBins: 10_000);
        for (int start = 0; start < p.Length;)
        {
            int batch = Math.Min(p.Length - start, 1 + rng.Next(400));
            metrics.Add(p.AsSpan(start, batch), y.AsSpan(start, batch));
            start += batch;
        }

        var snapshot = metrics.Snapshot();
        var oneShot = CtrLoss.Summarize(p, y);
        Assert.Equal(oneShot.Count, snapshot.Cumulative.Count);
        Assert.Equal(oneShot.Positives, snapshot.Cumulative.Positives);
        Assert.Equal(oneShot.LogLoss, snapshot.Cumulative.LogLoss, 12);
        Assert.Equal(oneShot.NormalizedEntropy, snapshot.Cumulative.NormalizedEntropy, 12);
        Assert.Equal(oneShot.Calibration, snapshot.Cumulative.Calibration, 12);
        Assert.Equal(1000, snapshot.WindowSamples);
        Assert.Equal(Auc.Exact(p.AsSpan(4000), y.AsSpan(4000)), snapshot.WindowAuc);
        Assert.True(Math.Abs(snapshot.CumulativeAuc.Auc - Auc.Exact(p, y)) <= snapshot.CumulativeAuc.ErrorBound);
    }

    [Fact]
    public void StreamingMetrics_BadBatch_ChangesNothing()
    {
        var metrics = new StreamingCtrMetrics(windowSize: 8, histogramBins: 16);
        metrics.Add([0.2f, 0.7f, 0.4f], [0, 1, 0]);
        var before = metrics.Snapshot();
        Assert.Throws<ArgumentException>(() => metrics.Add([0.3f, 0.9f, 1.5f], [1, 0, 1]));
        Assert.Throws<ArgumentException>(() => metrics.Add([0.3f, 0.9f], [1, 2]));
        Assert.Equal(before, metrics.Snapshot());
        metrics.Reset();
        Assert.Equal(0, metrics.Snapshot().Cumulative.Count);
        Assert.Equal(0, metrics.Snapshot().WindowSamples);
    }

    [Fact]
    public void StreamingMetrics_Add_AllocatesNothing()
    {
        var rng = new Random(41);
        var (p, y) = ProbabilitySamples(rng, 4096, ctr: 0.1);
        var metrics = new StreamingCtrMetrics(windowSize: 1024, histogramBins: 1000);
        metrics.Add(p, y); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) metrics.Add(p.AsSpan(i * 200, 200), y.AsSpan(i * 200, 200));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    // ---- References ----

    /// <summary>O(n^2) definition: every (positive, negative) pair scores 1, 1/2 or 0.</summary>
    private static double BruteForceAuc(float[] p, float[] y)
    {
        double credit = 0;
        long pairs = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (y[i] != 1) continue;
            for (int j = 0; j < p.Length; j++)
            {
                if (y[j] != 0) continue;
                pairs++;
                credit += p[i] > p[j] ? 1 : p[i] == p[j] ? 0.5 : 0;
            }
        }
        return pairs == 0 ? double.NaN : credit / pairs;
    }

    /// <summary>Scores on a grid of <paramref name="levels"/> values, mildly informative labels: lots of ties.</summary>
    private static (float[] P, float[] Y) TiedSamples(Random rng, int n, int levels)
    {
        var p = new float[n];
        var y = new float[n];
        for (int i = 0; i < n; i++)
        {
            int level = rng.Next(levels);
            p[i] = level / (float)(levels - 1);
            y[i] = rng.NextDouble() < 0.2 + 0.5 * level / (levels - 1) ? 1 : 0;
        }
        return (p, y);
    }

    /// <summary>Continuous probabilities whose labels follow them loosely, with about <paramref name="ctr"/> positives.</summary>
    private static (float[] P, float[] Y) ProbabilitySamples(Random rng, int n, double ctr)
    {
        var p = new float[n];
        var y = new float[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = rng.NextDouble() < ctr ? 1 : 0;
            double logit = Math.Log(ctr / (1 - ctr)) + (y[i] == 1 ? 1.0 : 0.0) + rng.NextDouble() * 3 - 1.5;
            p[i] = (float)(1 / (1 + Math.Exp(-logit)));
        }
        return (p, y);
    }
}
