using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

public class QuotientRemainderPropertyTests
{
    private static readonly SparseOptimizerSettings Sgd = SparseOptimizerSettings.Sgd(0.1f);

    private static QuotientRemainderTable Make(long n, IReadOnlyList<long> radices, int dim = 2, QrCombine combine = QrCombine.Add) =>
        new("t", [new TableFeature("C1")], n, dim, radices, combine, Sgd);

    // Checks that ids 0..n-1 get pairwise distinct row tuples and every row is inside its partition.
    private static void AssertUniqueInRangeTuples(QuotientRemainderTable table, long n)
    {
        int k = table.Radices.Count;
        var seen = new HashSet<string>();
        var tuple = new long[k];
        for (long id = 0; id < n; id++)
        {
            for (int j = 0; j < k; j++)
            {
                tuple[j] = table.RowOf(id, j);
                Assert.InRange(tuple[j], 0, table.Matrices[j].Rows - 1);
            }
            Assert.True(seen.Add(string.Join(',', tuple)), $"n = {n}, radices [{string.Join(", ", table.Radices)}]: id {id} repeats tuple ({string.Join(", ", tuple)})");
        }
    }

    [Fact]
    public void RowOf_GivesUniqueInRangeTuples_ForTwoWaySplits()
    {
        long[] cardinalities = [1, 2, 3, 7, 64, 97, 100, 257, 1000, 1023, 4999, 5000];
        long[] collisions = [2, 3, 4, 10, 64, 1000, 6000];
        foreach (long n in cardinalities)
        {
            foreach (long c in collisions)
            {
                long[] radices = QuotientRemainderTable.QuotientRemainderRadices(n, c);
                long m = (n + c - 1) / c;
                Assert.Equal(m, radices[0]);
                Assert.Equal(c, radices[1]);
                using var table = Make(n, radices);
                AssertUniqueInRangeTuples(table, n);
                // The classic trick: the large table takes the remainder, the small one the quotient.
                for (long id = 0; id < n; id += Math.Max(1, n / 50))
                {
                    Assert.Equal(id % m, table.RowOf(id, 0));
                    Assert.Equal(id / m, table.RowOf(id, 1));
                }
                // so the first m ids (the most frequent, under first-appearance vocabularies) never share a large row
                var firstRows = Enumerable.Range(0, (int)Math.Min(m, 200)).Select(id => table.RowOf(id, 0)).ToHashSet();
                Assert.Equal((int)Math.Min(m, 200), firstRows.Count);
            }
        }
    }

    [Fact]
    public void RowOf_GivesUniqueTuples_ForEveryCardinalityUpTo600()
    {
        for (long n = 1; n <= 600; n++)
        {
            foreach (long c in new long[] { 2, 5, 24 })
            {
                using var table = Make(n, QuotientRemainderTable.QuotientRemainderRadices(n, c), dim: 1);
                AssertUniqueInRangeTuples(table, n);
            }
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void BalancedRadices_ProductCoversCardinalityAndTuplesAreUnique(int partitions)
    {
        long[] cardinalities = [1, 2, 5, 8, 9, 27, 64, 81, 100, 255, 256, 1000, 4096, 5000];
        foreach (long n in cardinalities)
        {
            long[] radices = QuotientRemainderTable.BalancedRadices(n, partitions);
            Assert.Equal(partitions, radices.Length);
            long product = radices.Aggregate(1L, (a, r) => a * r);
            Assert.True(product >= n, $"n = {n}: product {product} of [{string.Join(", ", radices)}] is below n");
            Assert.All(radices, r => Assert.True(r >= 2));
            // Balanced: each radix is within one of the k-th root (rounded up), never wildly larger.
            double root = Math.Pow(n, 1.0 / partitions);
            Assert.All(radices, r => Assert.True(r <= Math.Max(2, Math.Ceiling(root) + 1), $"n = {n}: radix {r} vs root {root:F2}"));

            using var table = Make(n, radices, dim: 1);
            AssertUniqueInRangeTuples(table, n);
        }
    }

    [Fact]
    public void BalancedRadices_MatchesExactRootsForPerfectPowers()
    {
        Assert.Equal(new long[] { 10, 10, 10 }, QuotientRemainderTable.BalancedRadices(1000, 3));
        Assert.Equal(new long[] { 4, 4, 4, 4 }, QuotientRemainderTable.BalancedRadices(256, 4));
        Assert.Equal(new long[] { 2, 2, 2 }, QuotientRemainderTable.BalancedRadices(8, 3));
    }

    [Fact]
    public void BalancedRadices_ThrowsForFewerThanTwoPartitions()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => QuotientRemainderTable.BalancedRadices(100, 1));
        Assert.Equal("partitions", ex.ParamName);
        Assert.Equal(1, ex.ActualValue);
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(0L)]
    [InlineData(-3L)]
    public void QuotientRemainderRadices_ThrowsForCollisionsBelowTwo(long collisions)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => QuotientRemainderTable.QuotientRemainderRadices(100, collisions));
        Assert.Equal("collisions", ex.ParamName);
        Assert.Equal(collisions, ex.ActualValue);
    }

    [Fact]
    public void QuotientRemainderRadices_ThrowsForNonPositiveCardinality()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => QuotientRemainderTable.QuotientRemainderRadices(0, 4));
        Assert.Equal("cardinality", ex.ParamName);
        Assert.Equal(0L, ex.ActualValue);
    }

    [Fact]
    public void Constructor_ThrowsWhenRadicesDoNotCoverCardinality()
    {
        var ex = Assert.Throws<ArgumentException>(() => Make(100, [4, 24]));
        Assert.Equal("radices", ex.ParamName);
        Assert.Contains("96", ex.Message);
        Assert.Contains("100", ex.Message);
    }

    [Fact]
    public void Constructor_ThrowsForSinglePartitionOrBadRadix()
    {
        var single = Assert.Throws<ArgumentException>(() => Make(10, [10]));
        Assert.Equal("radices", single.ParamName);
        var zero = Assert.Throws<ArgumentOutOfRangeException>(() => Make(10, [0, 20]));
        Assert.Equal("radices", zero.ParamName);
        Assert.Equal(0L, zero.ActualValue);
    }

    [Fact]
    public void RowOf_AcceptsIdsAtOrAboveCardinalityAndHashesThemIntoRange()
    {
        const long n = 1000;
        using var table = Make(n, QuotientRemainderTable.QuotientRemainderRadices(n, 8));
        var rng = new Random(5);
        var quotientRows = new HashSet<long>();
        for (int i = 0; i < 20_000; i++)
        {
            long id = i < 100 ? n + i : rng.NextInt64(n, long.MaxValue);
            long r = table.RowOf(id, 0), q = table.RowOf(id, 1);
            Assert.InRange(r, 0, 124);
            Assert.InRange(q, 0, 7);
            Assert.Equal(r, table.RowOf(id, 0)); // deterministic
            quotientRows.Add(r);
        }
        // Hashed into [0, n), so large ids reach (nearly) every remainder row rather than one.
        Assert.True(quotientRows.Count > 120, $"only {quotientRows.Count} of 125 remainder rows reached");

        // And the table runs on them.
        long[] ids = [n, n + 1, long.MaxValue];
        var output = new float[ids.Length * table.OutputWidth];
        table.Lookup(0, ids, output);
        Assert.All(output, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void OutputWidth_IsDimForAddAndMultiplyAndKDimForConcat()
    {
        using var add = Make(100, [10, 10], dim: 3, combine: QrCombine.Add);
        using var mul = Make(100, [10, 10], dim: 3, combine: QrCombine.Multiply);
        using var cat = Make(100, [5, 5, 4], dim: 3, combine: QrCombine.Concat);
        Assert.Equal(3, add.OutputWidth);
        Assert.Equal(3, mul.OutputWidth);
        Assert.Equal(9, cat.OutputWidth);
    }

    [Fact]
    public void Multiply_StartsEveryIdAsItsRemainderRow_AndTrainingSeparatesIdsThatShareIt()
    {
        // n = 100, radices [10, 10]: ids 3 and 13 share remainder row 3 and differ in their quotient row (0 and 1).
        using var table = Make(100, [10, 10], dim: 4, combine: QrCombine.Multiply);
        long[] ids = [3, 13];
        var before = new float[ids.Length * 4];
        table.Lookup(0, ids, before);
        var remainderRow = table.Matrices[0].Row(3).ToArray();
        Assert.Equal(remainderRow, before[..4]);
        Assert.Equal(remainderRow, before[4..]);
        Assert.All(Enumerable.Range(0, 10), q => Assert.All(table.Matrices[1].Row(q).ToArray(), v => Assert.Equal(1f, v)));

        // One SGD step on id 3 alone moves its quotient row, so the two ids no longer share an embedding.
        table.BackwardLookup(0, [3], [1f, -1f, 0.5f, 2f]);
        var after = new float[ids.Length * 4];
        table.Lookup(0, ids, after);
        Assert.NotEqual(after[..4], after[4..]);
        Assert.NotEqual(1f, table.Matrices[1].Row(0)[0]);
        Assert.Equal(1f, table.Matrices[1].Row(1)[0]);
    }
}
