using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

public class MixedDimensionPropertyTests
{
    private static readonly SparseOptimizerSettings Sgd = SparseOptimizerSettings.Sgd(0.1f);

    // Nearest multiple of 4 (the test inputs avoid exact ties).
    private static int Round4(double x) => (int)Math.Floor(x / 4 + 0.5) * 4;

    [Fact]
    public void Dimensions_AlphaZeroGivesBaseDimEverywhere()
    {
        double[] n = [10, 1e3, 1e5, 3e7];
        Assert.Equal(new[] { 64, 64, 64, 64 }, MixedDimensionRule.Dimensions(n, 0, 64));
    }

    [Fact]
    public void Dimensions_EmptyInputGivesEmptyResult()
    {
        Assert.Empty(MixedDimensionRule.Dimensions([], 0.3, 64));
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.25)]
    [InlineData(0.3)]
    [InlineData(0.5)]
    [InlineData(0.8)]
    public void Dimensions_FollowThePowerLawWithSmallestCardinalityAtBaseDim(double alpha)
    {
        const int baseDim = 128, minDim = 4;
        double[] n = [3e6, 25, 1e3, 4.1e4, 7.7e5, 1.2e2];
        int[] dims = MixedDimensionRule.Dimensions(n, alpha, baseDim, minDim);

        double nMin = n.Min();
        double lambda = baseDim / Math.Pow(nMin, -alpha); // lambda * nMin^-alpha = baseDim
        for (int i = 0; i < n.Length; i++)
        {
            double raw = lambda * Math.Pow(n[i], -alpha);
            double frac = raw / 4 - Math.Floor(raw / 4);
            Assert.True(Math.Abs(frac - 0.5) > 1e-6, $"test input n = {n[i]} sits on a rounding tie");
            int expected = Math.Clamp(Round4(raw), minDim, baseDim);
            Assert.Equal(expected, dims[i]);
            Assert.Equal(0, dims[i] % 4);
        }
        Assert.Equal(baseDim, dims[Array.IndexOf(n, nMin)]);
    }

    [Fact]
    public void Dimensions_AreMonotoneNonIncreasingInCardinality()
    {
        var n = new double[200];
        for (int i = 0; i < n.Length; i++) n[i] = Math.Pow(10, 1 + i * 0.04); // 10 .. ~10^9
        foreach (double alpha in new[] { 0.05, 0.2, 0.4, 0.7, 1.0 })
        {
            int[] dims = MixedDimensionRule.Dimensions(n, alpha, 64);
            for (int i = 1; i < dims.Length; i++)
                Assert.True(dims[i] <= dims[i - 1], $"alpha {alpha}: dim {dims[i]} at n = {n[i]:G3} > dim {dims[i - 1]} at n = {n[i - 1]:G3}");
            Assert.All(dims, d => Assert.InRange(d, 4, 64));
        }
    }

    [Fact]
    public void Dimensions_HigherTemperatureCompressesMore()
    {
        double[] n = [50, 500, 5e3, 5e4, 5e5, 5e6, 5e7];
        long previousTotal = long.MaxValue;
        int[]? previous = null;
        foreach (double alpha in new[] { 0.0, 0.1, 0.2, 0.3, 0.5, 0.8 })
        {
            int[] dims = MixedDimensionRule.Dimensions(n, alpha, 64);
            long total = 0;
            for (int i = 0; i < n.Length; i++) total += (long)dims[i] * (long)n[i];
            if (previous != null)
            {
                for (int i = 0; i < n.Length; i++) Assert.True(dims[i] <= previous[i]);
                Assert.True(total < previousTotal, $"alpha {alpha}: {total} parameters, not fewer than {previousTotal}");
            }
            previous = dims;
            previousTotal = total;
        }
    }

    [Fact]
    public void Dimensions_ClampToMinDim()
    {
        int[] dims = MixedDimensionRule.Dimensions([1, 1e12], 1.0, 32, minDim: 8);
        Assert.Equal(new[] { 32, 8 }, dims);
    }

    [Fact]
    public void Dimensions_SmallestCardinalityGetsBaseDimEvenForLargeAlpha()
    {
        // lambda = baseDim * nMin^alpha overflows a double here (1e6^60), yet the rule is well defined.
        int[] dims = MixedDimensionRule.Dimensions([1e6, 1e7], 60, 64);
        Assert.Equal(new[] { 64, 4 }, dims);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void Dimensions_ThrowsForInvalidAlpha(double alpha)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => MixedDimensionRule.Dimensions([10, 100], alpha, 64));
        Assert.Equal("alpha", ex.ParamName);
        Assert.Equal(alpha, ex.ActualValue);
    }

    [Fact]
    public void Dimensions_ThrowsForNonPositiveCardinalityOrBadDims()
    {
        var n = Assert.Throws<ArgumentOutOfRangeException>(() => MixedDimensionRule.Dimensions([10, 0], 0.3, 64));
        Assert.Equal("n", n.ParamName);
        Assert.Equal(0.0, n.ActualValue);
        var baseDim = Assert.Throws<ArgumentOutOfRangeException>(() => MixedDimensionRule.Dimensions([10], 0.3, 0));
        Assert.Equal("baseDim", baseDim.ParamName);
        var minDim = Assert.Throws<ArgumentOutOfRangeException>(() => MixedDimensionRule.Dimensions([10], 0.3, 16, minDim: 32));
        Assert.Equal("minDim", minDim.ParamName);
        Assert.Equal(32, minDim.ActualValue);
    }

    [Fact]
    public void PerFeatureTable_HasProjectionOfBlockDimRowsByOutputDim()
    {
        using var table = new MixedDimensionTable("t", new TableFeature("C1"), 50, [new MixedDimensionBlock(50, 4)], 16, Sgd);
        Assert.Single(table.Blocks);
        Assert.Equal(50, table.Blocks[0].Rows);
        Assert.Equal(4, table.Blocks[0].Dim);
        var p = table.Projections[0];
        Assert.NotNull(p);
        Assert.Equal(4, p.Rows);
        Assert.Equal(16, p.Dim);
        Assert.Equal(16, table.OutputWidth);
        Assert.Equal(2, table.Matrices.Count);
    }

    [Fact]
    public void PerFeatureTable_AtFullDimHasNoProjection()
    {
        using var table = new MixedDimensionTable("t", new TableFeature("C1"), 50, [new MixedDimensionBlock(50, 16)], 16, Sgd);
        Assert.Null(table.Projections[0]);
        Assert.Single(table.Matrices);
        Assert.Equal(16, table.OutputWidth);
    }

    [Fact]
    public void HotTailTable_ProjectsOnlyNarrowBlocks()
    {
        using var table = new MixedDimensionTable("t", new TableFeature("C1"), 100,
            [new MixedDimensionBlock(10, 16), new MixedDimensionBlock(30, 8), new MixedDimensionBlock(60, 4)], 16, Sgd);
        Assert.Null(table.Projections[0]);
        Assert.Equal((8, 16), (table.Projections[1]!.Rows, table.Projections[1]!.Dim));
        Assert.Equal((4, 16), (table.Projections[2]!.Rows, table.Projections[2]!.Dim));
        Assert.Equal(5, table.Matrices.Count);
    }

    [Fact]
    public void Locate_PutsRanksBelowHotRowsInBlockZeroAndTheRestInTheTail()
    {
        const long n = 1000, hot = 40;
        using var table = new MixedDimensionTable("t", new TableFeature("C1"), n,
            [new MixedDimensionBlock(hot, 16), new MixedDimensionBlock(n - hot, 4)], 16, Sgd);
        for (long id = 0; id < n; id++)
        {
            var (block, row) = table.Locate(id);
            if (id < hot) Assert.Equal((0, id), (block, row));
            else Assert.Equal((1, id - hot), (block, row));
        }
        // Ids beyond the cardinality are hashed into [0, n) and land in a valid row.
        var rng = new Random(9);
        for (int i = 0; i < 2000; i++)
        {
            long id = rng.NextInt64(n, long.MaxValue);
            var (block, row) = table.Locate(id);
            Assert.InRange(row, 0, table.Blocks[block].Rows - 1);
            Assert.Equal((block, row), table.Locate(id));
        }
    }

    [Fact]
    public void Locate_WithHotRankIndexRoutesListedIdsByRankAndUnknownIdsToTheTail()
    {
        const long n = 500, hot = 3;
        var hotRanks = new Dictionary<long, long> { [900_001] = 0, [17] = 2, [123_456_789] = 1, [55] = 10 };
        using var table = new MixedDimensionTable("t", new TableFeature("C1"), n,
            [new MixedDimensionBlock(hot, 8), new MixedDimensionBlock(n - hot, 4)], 8, Sgd, hotRanks: hotRanks);

        Assert.Equal((0, 0L), table.Locate(900_001));
        Assert.Equal((0, 1L), table.Locate(123_456_789));
        Assert.Equal((0, 2L), table.Locate(17));
        for (long id = 0; id < 5000; id++)
        {
            if (id == 17) continue;
            var (block, row) = table.Locate(id);
            Assert.Equal(1, block);
            Assert.InRange(row, 0, n - hot - 1);
        }

        // Forward and backward run through both blocks.
        long[] ids = [17, 900_001, 4, 55];
        var output = new float[ids.Length * 8];
        table.Lookup(0, ids, output);
        Assert.All(output, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Constructor_ThrowsForNegativeHotRank()
    {
        var hotRanks = new Dictionary<long, long> { [5] = 0, [6] = -1 };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new MixedDimensionTable("t", new TableFeature("C1"), 10, [new MixedDimensionBlock(2, 8), new MixedDimensionBlock(8, 4)], 8, Sgd, hotRanks: hotRanks));
        Assert.Equal("hotRanks", ex.ParamName);
        Assert.Equal(-1L, ex.ActualValue);
        Assert.Contains("6", ex.Message);
    }

    [Fact]
    public void Locate_WithHashedTailKeepsTheHeadExactAndSpreadsEveryOtherIdOverTheBuckets()
    {
        const long n = 100_000, hot = 50, buckets = 64;
        MixedDimensionBlock[] blocks = [new(hot, 16), new(buckets, 4, Hashed: true)];
        using var table = new MixedDimensionTable("t", new TableFeature("C1"), n, blocks, 16, Sgd, seed: 11);
        using var same = new MixedDimensionTable("t", new TableFeature("C1"), n, blocks, 16, Sgd, seed: 11);
        using var other = new MixedDimensionTable("t", new TableFeature("C1"), n, blocks, 16, Sgd, seed: 12);
        for (long id = 0; id < hot; id++) Assert.Equal((0, id), table.Locate(id));

        var rng = new Random(4);
        var used = new int[buckets];
        int moved = 0;
        const int draws = 20_000;
        for (int i = 0; i < draws; i++)
        {
            // Tail ids below and far above the cardinality alike.
            long id = i % 2 == 0 ? rng.NextInt64(hot, n) : rng.NextInt64(n, long.MaxValue);
            var (block, row) = table.Locate(id);
            Assert.Equal(1, block);
            Assert.InRange(row, 0, buckets - 1);
            Assert.Equal((block, row), same.Locate(id));  // deterministic for a seed
            if (other.Locate(id).Row != row) moved++;
            used[row]++;
        }
        // The hash spreads the tail: every bucket is used, none holds more than twice its share.
        Assert.All(used, c => Assert.InRange(c, 1, 2 * draws / buckets));
        // Another table seed hashes differently (1 / 64 of ids keep their bucket by chance).
        Assert.True(moved > draws * 0.9, $"only {moved} of {draws} ids moved bucket under another seed");
    }

    [Fact]
    public void HashedTail_CollidingIdsShareARowAndTrainIt()
    {
        const long n = 1000, hot = 10;
        using var table = new MixedDimensionTable("t", new TableFeature("C1"), n, [new(hot, 8), new(3, 4, Hashed: true)], 8, Sgd);
        table.Blocks[1].SetWeights(TableCases.RandomArray(new Random(1), 12));
        // Among 4 tail ids two share one of 3 buckets.
        long[] tail = [20, 21, 22, 23];
        var rows = tail.Select(id => table.Locate(id).Row).ToArray();
        int a = 0, b = 1;
        for (int i = 0; i < 4; i++)
            for (int j = i + 1; j < 4; j++)
                if (rows[i] == rows[j]) (a, b) = (i, j);
        Assert.Equal(rows[a], rows[b]);
        var outA = new float[8];
        var outB = new float[8];
        table.Lookup(0, [tail[a]], outA);
        table.Lookup(0, [tail[b]], outB);
        Assert.Equal(outA, outB);
        Assert.Contains(outA, v => v != 0);
    }

    [Fact]
    public void Constructor_RejectsAHashedBlockThatIsNotALastTail()
    {
        Assert.Throws<ArgumentException>(() => new MixedDimensionTable("t", new TableFeature("C1"), 10,
            [new MixedDimensionBlock(4, 8, Hashed: true), new MixedDimensionBlock(6, 4)], 8, Sgd));
        Assert.Throws<ArgumentException>(() => new MixedDimensionTable("t", new TableFeature("C1"), 10,
            [new MixedDimensionBlock(4, 8, Hashed: true)], 8, Sgd));
        var ex = Assert.Throws<ArgumentException>(() => new MixedDimensionTable("t", new TableFeature("C1"), 10,
            [new MixedDimensionBlock(10, 8), new MixedDimensionBlock(4, 4, Hashed: true)], 8, Sgd));
        Assert.Contains("no tail", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MixedDimensionTable("t", new TableFeature("C1"), 10,
            [new MixedDimensionBlock(4, 8), new MixedDimensionBlock(0, 4, Hashed: true)], 8, Sgd));
    }
}
