using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

public class BadInputTests
{
    public static TheoryData<string> Families => TableFamilies.All;

    public static TheoryData<string, float> FamiliesAndBadValues
    {
        get
        {
            var data = new TheoryData<string, float>();
            foreach (var f in TableFamilies.Names)
                foreach (float v in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity }) data.Add(f, v);
            return data;
        }
    }

    private static void AssertNotFinite(ArgumentException ex, int position, float value)
    {
        Assert.Equal("gradOutput", ex.ParamName);
        Assert.Contains($"gradOutput[{position}] = {value}", ex.Message);
    }

    [Theory]
    [MemberData(nameof(FamiliesAndBadValues))]
    public void BackwardBatch_ThrowsForNonFiniteGradientAndChangesNoWeight(string family, float bad)
    {
        using var table = TableFamilies.Create(family);
        var batch = TableFamilies.Batch(table);
        var grad = TableFamilies.Gradient(batch.BatchSize * table.OutputWidth, 1);
        int position = grad.Length - 2; // in the last feature's columns
        grad[position] = bad;
        var before = TableFamilies.Capture(table);

        var ex = Assert.Throws<ArgumentException>(() => table.Backward(batch, grad));

        AssertNotFinite(ex, position, bad);
        TableFamilies.AssertUnchanged(before, table);
    }

    [Theory]
    [MemberData(nameof(FamiliesAndBadValues))]
    public void BackwardFeature_ThrowsForNonFiniteGradientAndChangesNoWeight(string family, float bad)
    {
        using var table = TableFamilies.Create(family);
        var batch = TableFamilies.Batch(table);
        int width = table.Features[0].OutputDim;
        var grad = TableFamilies.Gradient(batch.BatchSize * width, 2);
        grad[width + 1] = bad;
        var before = TableFamilies.Capture(table);

        var ex = Assert.Throws<ArgumentException>(() => table.Backward(0, batch.Feature(0), grad));

        AssertNotFinite(ex, width + 1, bad);
        TableFamilies.AssertUnchanged(before, table);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void BackwardLookup_ThrowsForNonFiniteGradientAndChangesNoWeight(string family)
    {
        using var table = TableFamilies.Create(family);
        long[] ids = [3, 3, 11, 0];
        int width = table.Features[0].OutputDim;
        var grad = TableFamilies.Gradient(ids.Length * width, 3);
        grad[0] = float.NaN;
        var before = TableFamilies.Capture(table);

        var ex = Assert.Throws<ArgumentException>(() => table.BackwardLookup(0, ids, grad));

        AssertNotFinite(ex, 0, float.NaN);
        TableFamilies.AssertUnchanged(before, table);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Backward_ThrowsForTooShortGradientAndChangesNoWeight(string family)
    {
        using var table = TableFamilies.Create(family);
        var batch = TableFamilies.Batch(table);
        var grad = TableFamilies.Gradient(batch.BatchSize * table.OutputWidth - 1, 4);
        var before = TableFamilies.Capture(table);

        var ex = Assert.Throws<ArgumentException>(() => table.Backward(batch, grad));
        Assert.Equal("gradOutput", ex.ParamName);
        Assert.Contains($"{batch.BatchSize * table.OutputWidth} is needed", ex.Message);
        var lookup = Assert.Throws<ArgumentException>(() => table.BackwardLookup(0, [1, 2], new float[table.Features[0].OutputDim]));
        Assert.Equal("gradOutput", lookup.ParamName);
        TableFamilies.AssertUnchanged(before, table);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Forward_ThrowsForTooShortOutput(string family)
    {
        using var table = TableFamilies.Create(family);
        var batch = TableFamilies.Batch(table);
        int width = table.Features[0].OutputDim;

        var all = Assert.Throws<ArgumentException>(() => table.Forward(batch, new float[batch.BatchSize * table.OutputWidth - 1]));
        Assert.Equal("output", all.ParamName);
        var one = Assert.Throws<ArgumentException>(() => table.Forward(0, batch.Feature(0), new float[batch.BatchSize * width - 1]));
        Assert.Equal("output", one.ParamName);
        var lookup = Assert.Throws<ArgumentException>(() => table.Lookup(0, [1, 2, 3], new float[3 * width - 1]));
        Assert.Equal("output", lookup.ParamName);
        Assert.Contains($"{3 * width} is needed", lookup.Message);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Calls_ThrowForUnknownFeature(string family)
    {
        using var table = TableFamilies.Create(family);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => table.Lookup(table.Features.Count, [1], new float[64]));
        Assert.Equal("feature", ex.ParamName);
        Assert.Equal(table.Features.Count, ex.ActualValue);

        var other = new KeyedJaggedBatch(["X"], 1, [1], [0, 1]);
        var before = TableFamilies.Capture(table);
        var missing = Assert.Throws<ArgumentException>(() => table.Backward(other, new float[table.OutputWidth]));
        Assert.Equal("batch", missing.ParamName);
        Assert.Contains("'C1'", missing.Message);
        TableFamilies.AssertUnchanged(before, table);
    }

    [Fact]
    public void JaggedFeature_WeightsLengthMismatchThrowsBeforeReachingATable()
    {
        using var table = TableFamilies.Create("full");
        var ex = Assert.Throws<ArgumentException>(() =>
        {
            var input = new JaggedFeature([1, 2, 3], [0, 2, 3], [1f, 2f]);
            table.Forward(0, input, new float[8]);
        });
        Assert.Equal("weights", ex.ParamName);
        Assert.Contains("length 2", ex.Message);
    }

    // ---- full table ids ----

    private static FullTable Full() =>
        new("full", [new TableFeature("C1"), new TableFeature("C2")], 10, 4, SparseOptimizerSettings.Adagrad(0.1f), new TableInit(0.5f, 4));

    private static void AssertIdOutOfRange(ArgumentOutOfRangeException ex, long id, int position)
    {
        Assert.Equal("ids", ex.ParamName);
        Assert.Equal(id, ex.ActualValue);
        Assert.Contains($"ids[{position}] = {id}", ex.Message);
        Assert.Contains("[0, 10)", ex.Message);
    }

    [Theory]
    [InlineData(10L)]
    [InlineData(11L)]
    [InlineData(long.MaxValue)]
    public void FullTable_IdAtOrAboveRowsThrowsEverywhereAndChangesNoWeight(long bad)
    {
        using var table = Full();
        var before = TableFamilies.Capture(table);
        long[] ids = [1, 9, bad, 2];
        int[] offsets = [0, 2, 4];

        AssertIdOutOfRange(Assert.Throws<ArgumentOutOfRangeException>(() => table.Forward(0, new JaggedFeature(ids, offsets), new float[8])), bad, 2);
        AssertIdOutOfRange(Assert.Throws<ArgumentOutOfRangeException>(() => table.Lookup(1, ids, new float[16])), bad, 2);
        AssertIdOutOfRange(Assert.Throws<ArgumentOutOfRangeException>(() => table.Backward(0, new JaggedFeature(ids, offsets), new float[8])), bad, 2);
        AssertIdOutOfRange(Assert.Throws<ArgumentOutOfRangeException>(() => table.BackwardLookup(1, ids, new float[16])), bad, 2);

        // Batch level: the bad id is in the second feature, after a valid first one.
        var batch = new KeyedJaggedBatch(["C1", "C2"], 2, [1, 2, 3, 4, bad, 5], [0, 2, 3, 4, 6]);
        var grad = TableFamilies.Gradient(2 * 8, 5);
        AssertIdOutOfRange(Assert.Throws<ArgumentOutOfRangeException>(() => table.Forward(batch, new float[16])), bad, 1);
        AssertIdOutOfRange(Assert.Throws<ArgumentOutOfRangeException>(() => table.Backward(batch, grad)), bad, 1);

        TableFamilies.AssertUnchanged(before, table);
    }

    [Fact]
    public void FullTable_NegativeIdThrowsNamingArgumentAndValueAndChangesNoWeight()
    {
        using var table = Full();
        var before = TableFamilies.Capture(table);
        long[] ids = [1, -4];

        var lookup = Assert.Throws<ArgumentOutOfRangeException>(() => table.Lookup(0, ids, new float[8]));
        Assert.Equal("ids", lookup.ParamName);
        Assert.Equal(-4L, lookup.ActualValue);
        Assert.Contains("ids[1] = -4", lookup.Message);

        var backward = Assert.Throws<ArgumentOutOfRangeException>(() => table.BackwardLookup(0, ids, new float[8]));
        Assert.Equal("ids", backward.ParamName);
        Assert.Equal(-4L, backward.ActualValue);

        var view = Assert.Throws<ArgumentOutOfRangeException>(() => table.Forward(0, JaggedFeature.FromLengths(ids, [2]), new float[4]));
        Assert.Equal("ids", view.ParamName);
        Assert.Equal(-4L, view.ActualValue);

        TableFamilies.AssertUnchanged(before, table);
    }

    [Fact]
    public void FullTable_WorksNormallyAfterRefusedInput()
    {
        using var table = Full();
        using var fresh = Full();
        long[] good = [1, 9, 1, 0];
        var grad = TableFamilies.Gradient(good.Length * 4, 6);

        Assert.Throws<ArgumentOutOfRangeException>(() => table.BackwardLookup(0, [1, 10], new float[8]));
        var nan = (float[])grad.Clone();
        nan[5] = float.NaN;
        Assert.Throws<ArgumentException>(() => table.BackwardLookup(0, good, nan));

        table.BackwardLookup(0, good, grad);
        fresh.BackwardLookup(0, good, grad);
        TableFamilies.AssertSame(TableFamilies.Capture(fresh), TableFamilies.Capture(table), "full after refused input");
    }

    // ---- a multi-feature backward refused part-way leaves the table unchanged ----

    [Theory]
    [MemberData(nameof(Families))]
    public void BackwardBatch_RefusedForSecondFeatureLeavesTableUnchangedAndNextBackwardMatchesFreshTable(string family)
    {
        using var table = TableFamilies.Create(family);
        using var fresh = TableFamilies.Create(family);
        var batch = TableFamilies.Batch(table);
        int b = batch.BatchSize, width = table.OutputWidth;
        var good = TableFamilies.Gradient(b * width, 7);

        // Poison the last feature's columns of the last sample (the first feature's gradients are finite).
        var bad = (float[])good.Clone();
        var last = table.Features[^1];
        bad[(b - 1) * width + last.Column + last.OutputDim - 1] = float.PositiveInfinity;
        var before = TableFamilies.Capture(table);
        Assert.Throws<ArgumentException>(() => table.Backward(batch, bad));
        TableFamilies.AssertUnchanged(before, table);

        // A following valid step gives exactly what a table that never saw the bad step gives.
        table.Backward(batch, good);
        fresh.Backward(batch, good);
        TableFamilies.AssertSame(TableFamilies.Capture(fresh), TableFamilies.Capture(table), family);

        var outTable = new float[b * width];
        var outFresh = new float[b * width];
        table.Forward(batch, outTable);
        fresh.Forward(batch, outFresh);
        Assert.Equal(outFresh, outTable);
    }

    [Fact]
    public void UnifiedTable_RefusedMultiFeatureBackwardDiscardsFirstFeatureGradients()
    {
        // Two features sharing rows: a refused step must not leave the first feature's summed gradients behind.
        const int dim = 4;
        UnifiedFeature[] features = [new("C1", Chunks: 2), new("C2"), new("C3")];
        using var table = new UnifiedTable("ue", features, 8, dim, SparseOptimizerSettings.RowWiseAdagrad(0.1f), seed: 2, init: new TableInit(0.3f, 5));
        using var fresh = new UnifiedTable("ue", features, 8, dim, SparseOptimizerSettings.RowWiseAdagrad(0.1f), seed: 2, init: new TableInit(0.3f, 5));
        var builder = new KeyedJaggedBatchBuilder(["C1", "C2", "C3"]);
        var rng = new Random(13);
        for (int s = 0; s < 16; s++)
        {
            for (int f = 0; f < 3; f++)
                for (int k = rng.Next(0, 4); k > 0; k--) builder.AddInt64(f, rng.Next(0, 50));
            builder.EndSample();
        }
        var batch = builder.Build();
        var good = TableFamilies.Gradient(batch.BatchSize * table.OutputWidth, 8);
        var bad = (float[])good.Clone();
        bad[table.Features[1].Column + 2] = float.NaN; // sample 0, feature C2

        var before = TableFamilies.Capture(table);
        var ex = Assert.Throws<ArgumentException>(() => table.Backward(batch, bad));
        Assert.Equal("gradOutput", ex.ParamName);
        Assert.Contains($"gradOutput[{table.Features[1].Column + 2}] = NaN", ex.Message);
        TableFamilies.AssertUnchanged(before, table);

        for (int step = 0; step < 3; step++)
        {
            table.Backward(batch, good);
            fresh.Backward(batch, good);
        }
        TableFamilies.AssertSame(TableFamilies.Capture(fresh), TableFamilies.Capture(table), "ue");
    }
}
