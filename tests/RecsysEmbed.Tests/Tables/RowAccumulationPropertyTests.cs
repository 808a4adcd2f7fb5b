using RecsysEmbed.Core.Kernels;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// The row-gradient accumulator behind every family's backward: deduplication, summing, and the discard
/// (Clear) that a refused backward relies on to leave no gradient behind.
/// </summary>
public unsafe class RowAccumulationPropertyTests
{
    private const int Dim = 5;

    // Adds g to the slot of row, scalar, so sums are bit-identical to the naive reference below.
    private static void Add(RowGradientAccumulator acc, long row, float[] g)
    {
        float* slot = acc.Slot(row);
        for (int d = 0; d < Dim; d++) slot[d] += g[d];
    }

    [Fact]
    public void Accumulate_SumsRepeatedRowsOnceInFirstTouchOrder_AcrossGrowth()
    {
        using var acc = new RowGradientAccumulator(Dim);
        var rng = new Random(31);
        var order = new List<long>();
        var sums = new Dictionary<long, float[]>();
        for (int i = 0; i < 6000; i++) // ~3000 distinct rows: grows the slot table and gradient buffer several times
        {
            long row = rng.Next(0, 4000) * 1_000_003L;
            var g = new float[Dim];
            for (int d = 0; d < Dim; d++) g[d] = (float)(rng.NextDouble() * 2 - 1);
            Add(acc, row, g);
            if (!sums.TryGetValue(row, out var s)) { sums[row] = s = new float[Dim]; order.Add(row); }
            for (int d = 0; d < Dim; d++) s[d] += g[d];
        }

        Assert.Equal(order.Count, acc.Count);
        // Each partition keeps its rows in first-touch order.
        var rows = acc.CopyRows();
        var expectedOrder = order.OrderBy(r => RowGradientAccumulator.Owner(r, acc.PartitionCount)).ToArray(); // stable sort
        Assert.Equal(expectedOrder, rows);
        var grads = acc.CopyGradients();
        for (int i = 0; i < rows.Length; i++)
            Assert.Equal(sums[rows[i]], grads.AsSpan(i * Dim, Dim).ToArray());
    }

    [Fact]
    public void Clear_DiscardsPendingGradientsAndStartsFromZero()
    {
        using var acc = new RowGradientAccumulator(Dim, partitions: 1);
        float[] ones = [1, 1, 1, 1, 1];
        for (long r = 0; r < 700; r++) Add(acc, r, ones);
        acc.Clear();
        Assert.Equal(0, acc.Count);

        float[] g = [1, 2, 3, 4, 5];
        Add(acc, 3, g);     // touched before the clear: must start from zero again
        Add(acc, 9999, g);
        Add(acc, 3, g);
        Assert.Equal(new long[] { 3, 9999 }, acc.CopyRows());
        Assert.Equal(new float[] { 2, 4, 6, 8, 10, 1, 2, 3, 4, 5 }, acc.CopyGradients());
    }

    [Fact]
    public void ApplyTo_UpdatesOnlyTouchedRowsOnceAndClears()
    {
        using var acc = new RowGradientAccumulator(Dim);
        using var m = new EmbeddingMatrix("m", 10, Dim, SparseOptimizerSettings.Sgd(1f));
        m.InitUniform(1f, 4);
        var before = m.CopyWeights();

        // A discarded step first: nothing of it may reach the matrix.
        Add(acc, 1, [100, 100, 100, 100, 100]);
        acc.Clear();
        acc.ApplyTo(m, 1);
        Assert.Equal(0, m.StepCount);
        Assert.Equal(before, m.CopyWeights());

        Add(acc, 4, [1, 0, 0, 0, 0]);
        Add(acc, 7, [0, 0, 0, 0, 2]);
        Add(acc, 4, [1, 0, 0, 0, 0]);
        acc.ApplyTo(m, 1);
        Assert.Equal(0, acc.Count);
        Assert.Equal(1, m.StepCount);

        var after = m.CopyWeights();
        for (int r = 0; r < 10; r++)
        {
            for (int d = 0; d < Dim; d++)
            {
                float expected = before[r * Dim + d];
                if (r == 4 && d == 0) expected -= 2f;
                if (r == 7 && d == 4) expected -= 2f;
                Assert.Equal(expected, after[r * Dim + d]);
            }
        }
    }

    [Fact]
    public void ApplyTo_ThrowsForMatrixOfOtherDim()
    {
        using var acc = new RowGradientAccumulator(Dim);
        using var m = new EmbeddingMatrix("wide", 4, Dim + 1, SparseOptimizerSettings.Sgd(1f));
        var ex = Assert.Throws<ArgumentException>(() => acc.ApplyTo(m, 1));
        Assert.Equal("matrix", ex.ParamName);
        Assert.Contains("wide", ex.Message);
    }
}
