using RecsysEmbed.Data.Readers;

namespace RecsysEmbed.Data.Transforms;

/// <summary>
/// Per-dense-feature mean and (population) standard deviation, from a streaming first pass. Immutable.
/// A feature with zero variance gets 1 / std = 1, so standardising only centres it.
/// <code>
///   DenseStatistics stats;
///   using (var first = new CriteoReader(path)) stats = DenseStatistics.Compute(first);
///   using var second = new CriteoReader(path, new CtrReaderOptions { Dense = DenseTransform.Log1p.WithStandardization(stats) });
/// </code>
/// </summary>
public sealed class DenseStatistics
{
    public DenseStatistics(IReadOnlyList<string> features, IReadOnlyList<double> mean, IReadOnlyList<double> stdDev, long count)
    {
        if (mean.Count != features.Count || stdDev.Count != features.Count)
            throw new ArgumentException($"mean ({mean.Count}) and stdDev ({stdDev.Count}) must have one entry per feature ({features.Count}).");
        Features = features.ToArray();
        Mean = mean.ToArray();
        StdDev = stdDev.ToArray();
        InverseStdDev = StdDev.Select(s => s > 1e-12 ? 1.0 / s : 1.0).ToArray();
        Count = count;
    }

    public IReadOnlyList<string> Features { get; }
    public double[] Mean { get; }
    public double[] StdDev { get; }
    internal double[] InverseStdDev { get; }

    /// <summary>Samples the statistics were computed over.</summary>
    public long Count { get; }
    public int FeatureCount => Features.Count;

    /// <summary>
    /// Reads <paramref name="reader"/> to its end and returns the statistics of its (transformed) dense values.
    /// The reader's own transform must not standardise.
    /// </summary>
    public static DenseStatistics Compute(ICtrReader reader, int batchSize = 4096)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var acc = new Accumulator(reader.Schema.DenseCount);
        foreach (var batch in reader.ReadBatches(batchSize, reuseBuffers: true))
        {
            for (int b = 0; b < batch.BatchSize; b++) acc.Add(batch.DenseRow(b));
        }
        return acc.ToStatistics(reader.Schema.DenseFeatures);
    }

    /// <summary>Welford's running mean and variance, one per feature.</summary>
    public sealed class Accumulator(int featureCount)
    {
        private readonly double[] _mean = new double[featureCount];
        private readonly double[] _m2 = new double[featureCount];

        public long Count { get; private set; }

        public void Add(ReadOnlySpan<float> row)
        {
            if (row.Length != _mean.Length) throw new ArgumentException($"row has {row.Length} values, expected {_mean.Length}.", nameof(row));
            Count++;
            for (int d = 0; d < row.Length; d++)
            {
                double x = row[d];
                double delta = x - _mean[d];
                _mean[d] += delta / Count;
                _m2[d] += delta * (x - _mean[d]);
            }
        }

        public DenseStatistics ToStatistics(IReadOnlyList<string> features) =>
            new(features, _mean, _m2.Select(m => Count > 0 ? Math.Sqrt(m / Count) : 0).ToArray(), Count);
    }
}
