using RecsysEmbed.Core.Batching;

namespace RecsysEmbed.Tests.Batching;

public class JaggedFeatureTests
{
    [Fact]
    public void Constructor_WithNonZeroBaseOffsetGivesRelativeBags()
    {
        // A slice of a larger batch: its ids start at global position 10.
        long[] ids = [5, 6, 7, 8];
        int[] offsets = [10, 12, 12, 14];
        var view = new JaggedFeature(ids, offsets, [1f, 2f, 3f, 4f]);

        Assert.Equal(3, view.BagCount);
        Assert.True(view.HasWeights);
        Assert.Equal([0, 2, 2], new[] { view.BagStart(0), view.BagStart(1), view.BagStart(2) });
        Assert.Equal([2, 0, 2], new[] { view.BagLength(0), view.BagLength(1), view.BagLength(2) });
        Assert.Equal(7, view.Ids[view.BagStart(2)]);
        Assert.Equal(3f, view.Weights[view.BagStart(2)]);
    }

    [Fact]
    public void Constructor_ThrowsWhenIdsDoNotMatchTheSpanOfNonZeroBasedOffsets()
    {
        var ex = Assert.Throws<ArgumentException>(() => new JaggedFeature([1, 2, 3], [10, 12, 14]));
        Assert.Equal("ids", ex.ParamName);
        Assert.Contains("length 3", ex.Message);
        Assert.Contains("span 4", ex.Message);
    }

    [Fact]
    public void Constructor_ThrowsForWeightsLengthMismatch()
    {
        var tooShort = Assert.Throws<ArgumentException>(() => new JaggedFeature([1, 2, 3], [0, 3], [1f, 1f]));
        Assert.Equal("weights", tooShort.ParamName);
        Assert.Contains("length 2", tooShort.Message);
        var tooLong = Assert.Throws<ArgumentException>(() => new JaggedFeature([1, 2, 3], [0, 3], [1f, 1f, 1f, 1f]));
        Assert.Equal("weights", tooLong.ParamName);
        Assert.Contains("length 4", tooLong.Message);
    }

    [Fact]
    public void Constructor_ThrowsForNonMonotoneOffsetsNamingValues()
    {
        var ex = Assert.Throws<ArgumentException>(() => new JaggedFeature([1, 2], [5, 7, 6, 7]));
        Assert.Equal("offsets", ex.ParamName);
        Assert.Contains("offsets[2] = 6", ex.Message);
        Assert.Contains("offsets[1] = 7", ex.Message);
    }

    [Fact]
    public void Constructor_ThrowsForNegativeIdNamingPositionAndValue()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new JaggedFeature([1, 2, -5], [0, 1, 3]));
        Assert.Equal("ids", ex.ParamName);
        Assert.Equal(-5L, ex.ActualValue);
        Assert.Contains("ids[2] = -5", ex.Message);
    }

    [Fact]
    public void Constructor_ThrowsForEmptyOrNegativeOffsets()
    {
        var empty = Assert.Throws<ArgumentException>(() => new JaggedFeature([], []));
        Assert.Equal("offsets", empty.ParamName);
        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => new JaggedFeature([], [-1, -1]));
        Assert.Equal("offsets", negative.ParamName);
        Assert.Equal(-1, negative.ActualValue);
    }

    [Fact]
    public void FromLengths_BuildsOffsetsAndRejectsNegativeLength()
    {
        var view = JaggedFeature.FromLengths([4, 5, 6], [2, 0, 1]);
        Assert.Equal(new[] { 0, 2, 2, 3 }, view.Offsets.ToArray());
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => JaggedFeature.FromLengths([4], [2, -1]));
        Assert.Equal("lengths", ex.ParamName);
        Assert.Equal(-1, ex.ActualValue);
    }
}
