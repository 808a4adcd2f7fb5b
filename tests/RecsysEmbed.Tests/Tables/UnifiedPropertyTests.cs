using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Tests.Hashing;

namespace RecsysEmbed.Tests.Tables;

public class UnifiedPropertyTests
{
    private static readonly SparseOptimizerSettings Sgd = SparseOptimizerSettings.Sgd(0.1f);

    // Asserts that `hits` successes out of n trials agree with probability p within a 5-sigma binomial band.
    private static void AssertBinomial(long hits, long n, double p, string what)
    {
        double mean = n * p, sigma = Math.Sqrt(n * p * (1 - p));
        Assert.True(Math.Abs(hits - mean) <= 5 * sigma,
            $"{what}: {hits} of {n} (rate {(double)hits / n:G4}), expected {mean:F0} ± {5 * sigma:F0} (5 sigma) for p = {p:G4}");
    }

    [Fact]
    public void SameValueInTwoFeatures_CollidesWithProbabilityOneOverBuckets()
    {
        const int n = 200_000, buckets = 1000;
        using var table = new UnifiedTable("ue", [new UnifiedFeature("C1"), new UnifiedFeature("C2"), new UnifiedFeature("C3")], buckets, 2, Sgd);
        long c12 = 0, c13 = 0, c23 = 0;
        for (long v = 0; v < n; v++)
        {
            long a = table.RowOf(0, 0, v), b = table.RowOf(1, 0, v), c = table.RowOf(2, 0, v);
            if (a == b) c12++;
            if (a == c) c13++;
            if (b == c) c23++;
        }
        AssertBinomial(c12, n, 1.0 / buckets, "C1 vs C2");
        AssertBinomial(c13, n, 1.0 / buckets, "C1 vs C3");
        AssertBinomial(c23, n, 1.0 / buckets, "C2 vs C3");
    }

    [Fact]
    public void SameValueInTwoFeatures_CollidesRarelyForHashedRawStrings()
    {
        // The realistic path: raw strings hashed per feature by IdHasher, then bucketed per feature by the table.
        const int n = 200_000, buckets = 1000;
        using var table = new UnifiedTable("ue", [new UnifiedFeature("C1"), new UnifiedFeature("C2")], buckets, 2, Sgd, seed: 77);
        var h1 = new IdHasher("C1");
        var h2 = new IdHasher("C2");
        Span<char> buffer = stackalloc char[16];
        long hits = 0;
        for (int v = 0; v < n; v++)
        {
            v.TryFormat(buffer, out int written, "x8");
            if (table.RowOf(0, 0, h1.HashString(buffer[..written])) == table.RowOf(1, 0, h2.HashString(buffer[..written]))) hits++;
        }
        AssertBinomial(hits, n, 1.0 / buckets, "raw strings, C1 vs C2");
    }

    [Fact]
    public void ChunksOfOneFeature_CollideWithProbabilityOneOverBuckets()
    {
        const int n = 200_000, buckets = 1000;
        using var table = new UnifiedTable("ue", [new UnifiedFeature("C1", Chunks: 3)], buckets, 2, Sgd);
        long c01 = 0, c02 = 0, c12 = 0;
        for (long v = 0; v < n; v++)
        {
            long a = table.RowOf(0, 0, v), b = table.RowOf(0, 1, v), c = table.RowOf(0, 2, v);
            if (a == b) c01++;
            if (a == c) c02++;
            if (b == c) c12++;
        }
        AssertBinomial(c01, n, 1.0 / buckets, "chunk 0 vs 1");
        AssertBinomial(c02, n, 1.0 / buckets, "chunk 0 vs 2");
        AssertBinomial(c12, n, 1.0 / buckets, "chunk 1 vs 2");
    }

    [Fact]
    public void RowOf_IsUniformOverBuckets()
    {
        const int n = 200_000, buckets = 1000;
        using var table = new UnifiedTable("ue", [new UnifiedFeature("C1")], buckets, 2, Sgd);
        var counts = new long[buckets];
        for (long v = 0; v < n; v++) counts[table.RowOf(0, 0, v)]++;
        double stat = ChiSquare.UniformStatistic(counts);
        Assert.True(stat < ChiSquare.CriticalValue(buckets - 1), $"chi-square {stat:F1}");
    }

    [Fact]
    public void RowOf_DependsOnFeatureNameAndSeedNotOnPosition()
    {
        using var a = new UnifiedTable("a", [new UnifiedFeature("C1"), new UnifiedFeature("C2")], 1000, 2, Sgd, seed: 5);
        using var b = new UnifiedTable("b", [new UnifiedFeature("C2"), new UnifiedFeature("C1")], 1000, 2, Sgd, seed: 5);
        using var c = new UnifiedTable("c", [new UnifiedFeature("C1"), new UnifiedFeature("C2")], 1000, 2, Sgd, seed: 6);
        int sameAsOtherSeed = 0;
        for (long v = 0; v < 1000; v++)
        {
            Assert.Equal(a.RowOf(0, 0, v), b.RowOf(1, 0, v));
            Assert.Equal(a.RowOf(1, 0, v), b.RowOf(0, 0, v));
            if (a.RowOf(0, 0, v) == c.RowOf(0, 0, v)) sameAsOtherSeed++;
        }
        Assert.True(sameAsOtherSeed < 20, $"{sameAsOtherSeed} of 1000 rows agree across seeds");
    }

    [Theory]
    [InlineData(4_000_000L, 16, 62_500L)]
    [InlineData(4_000_001L, 16, 62_500L)]
    [InlineData(4_000_063L, 16, 62_500L)]
    [InlineData(4_000_064L, 16, 62_501L)]
    [InlineData(1000L, 3, 83L)]
    [InlineData(12L, 3, 1L)]
    public void BucketsForBudget_IsFloorOfBudgetOverRowBytes(long budget, int dim, long expected)
    {
        Assert.Equal(expected, UnifiedTable.BucketsForBudget(budget, dim, Sgd));
        Assert.Equal(budget / (dim * 4L), UnifiedTable.BucketsForBudget(budget, dim, SparseOptimizerSettings.Adam(0.1f)));
    }

    [Fact]
    public void BucketsForBudget_CountsOptimizerStateWhenAsked()
    {
        const long budget = 10_000_000;
        const int dim = 16;
        Assert.Equal(budget / (dim * 4), UnifiedTable.BucketsForBudget(budget, dim, Sgd, includeOptimizerState: true));
        Assert.Equal(budget / (dim * 4 + 4), UnifiedTable.BucketsForBudget(budget, dim, SparseOptimizerSettings.RowWiseAdagrad(0.1f), includeOptimizerState: true));
        Assert.Equal(budget / (dim * 8), UnifiedTable.BucketsForBudget(budget, dim, SparseOptimizerSettings.Adagrad(0.1f), includeOptimizerState: true));
        Assert.Equal(budget / (dim * 12), UnifiedTable.BucketsForBudget(budget, dim, SparseOptimizerSettings.Adam(0.1f), includeOptimizerState: true));

        // The budget then holds the whole table.
        long buckets = UnifiedTable.BucketsForBudget(budget, dim, SparseOptimizerSettings.Adam(0.1f), includeOptimizerState: true);
        using var table = new UnifiedTable("ue", [new UnifiedFeature("C1")], buckets, dim, SparseOptimizerSettings.Adam(0.1f));
        Assert.True(table.Memory.TotalBytes <= budget);
        Assert.True(table.Memory.TotalBytes + dim * 12 > budget);
    }

    [Theory]
    [InlineData(63L)]
    [InlineData(0L)]
    [InlineData(-64L)]
    public void BucketsForBudget_ThrowsForBudgetBelowOneRowNamingArgumentAndValue(long budget)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => UnifiedTable.BucketsForBudget(budget, 16, Sgd));
        Assert.Equal("budgetBytes", ex.ParamName);
        Assert.Equal(budget, ex.ActualValue);
        Assert.Contains("64 bytes", ex.Message);
    }

    [Fact]
    public void BucketsForBudget_ThrowsForBudgetThatOnlyFitsWithoutState()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            UnifiedTable.BucketsForBudget(100, 16, SparseOptimizerSettings.Adagrad(0.1f), includeOptimizerState: true));
        Assert.Equal("budgetBytes", ex.ParamName);
        Assert.Equal(100L, ex.ActualValue);
    }

    [Fact]
    public void BucketsForBudget_ThrowsForNonPositiveDim()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => UnifiedTable.BucketsForBudget(1000, 0, Sgd));
        Assert.Equal("dim", ex.ParamName);
    }

    [Fact]
    public void MultiSize_OutputWidthIsSumOfChunkWidthsAndSlotsAreContiguous()
    {
        const int dim = 4;
        using var table = new UnifiedTable("ue",
            [new UnifiedFeature("C1", Chunks: 2), new UnifiedFeature("C2"), new UnifiedFeature("C3", Chunks: 3, Pooling: PoolingMode.Mean)],
            100, dim, Sgd);

        Assert.Equal((2 + 1 + 3) * dim, table.OutputWidth);
        Assert.Equal(new FeatureSlot("C1", PoolingMode.Sum, 8, 0), table.Features[0]);
        Assert.Equal(new FeatureSlot("C2", PoolingMode.Sum, 4, 8), table.Features[1]);
        Assert.Equal(new FeatureSlot("C3", PoolingMode.Mean, 12, 12), table.Features[2]);
        Assert.Equal([2, 1, 3], new[] { table.Chunks(0), table.Chunks(1), table.Chunks(2) });
        Assert.Equal(2, table.FeatureIndex("C3"));
        Assert.Equal(-1, table.FeatureIndex("C4"));
    }

    [Fact]
    public void MultiSize_LookupConcatenatesTheChunkRows()
    {
        const int dim = 3;
        using var table = new UnifiedTable("ue", [new UnifiedFeature("C1"), new UnifiedFeature("C2", Chunks: 3)], 50, dim, Sgd);
        long[] ids = [5, 123_456, 7];
        var output = new float[ids.Length * 3 * dim];
        table.Lookup(1, ids, output);
        for (int i = 0; i < ids.Length; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                var expected = table.Weights.Row(table.RowOf(1, j, ids[i])).ToArray();
                Assert.Equal(expected, output.AsSpan((i * 3 + j) * dim, dim).ToArray());
            }
        }
    }

    [Fact]
    public void Constructor_ThrowsForFeatureWithoutChunks()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new UnifiedTable("ue", [new UnifiedFeature("C1", Chunks: 0)], 10, 2, Sgd));
        Assert.Equal("features", ex.ParamName);
        Assert.Equal(0, ex.ActualValue);
    }
}
