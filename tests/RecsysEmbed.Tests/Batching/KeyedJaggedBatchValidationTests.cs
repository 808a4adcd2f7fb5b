using RecsysEmbed.Core.Batching;

namespace RecsysEmbed.Tests.Batching;

public class KeyedJaggedBatchValidationTests
{
    private static readonly string[] Keys = ["C1", "C2"];

    [Fact]
    public void Constructor_AcceptsValidBatchAndExposesViews()
    {
        // C1 bags: [7 3] [9]; C2 bags: [] [4 4]
        var batch = new KeyedJaggedBatch(Keys, 2, [7, 3, 9, 4, 4], [0, 2, 3, 3, 5], [1f, 2f, 3f, 4f, 5f]);
        Assert.Equal(5, batch.ValueCount);
        Assert.Equal(0, batch.IndexOf("C1"));
        Assert.Equal(1, batch.IndexOf("C2"));
        Assert.Equal(-1, batch.IndexOf("C3"));
        var c2 = batch.Feature("C2");
        Assert.Equal(new long[] { 4, 4 }, c2.Ids.ToArray());
        Assert.Equal(new[] { 4f, 5f }, c2.Weights.ToArray());
        Assert.Equal(0, c2.BagLength(0));
        Assert.Equal(2, c2.BagLength(1));
    }

    [Fact]
    public void Constructor_AcceptsLongerBuffersThanNeeded()
    {
        var batch = new KeyedJaggedBatch(Keys, 1, [5, 6, 99, 99], [0, 1, 2, 77], [1f, 1f, 9f]);
        Assert.Equal(new long[] { 5, 6 }, batch.Values.ToArray());
        Assert.Equal(new[] { 0, 1, 2 }, batch.Offsets.ToArray());
        Assert.Equal(2, batch.Weights.Length);
    }

    [Fact]
    public void Constructor_ThrowsForNonMonotoneOffsetsNamingArgumentAndValues()
    {
        var ex = Assert.Throws<ArgumentException>(() => new KeyedJaggedBatch(Keys, 2, [1, 2, 3], [0, 2, 1, 3, 3]));
        Assert.Equal("offsets", ex.ParamName);
        Assert.Contains("offsets[2] = 1", ex.Message);
        Assert.Contains("offsets[1] = 2", ex.Message);
    }

    [Fact]
    public void Constructor_ThrowsForNonZeroFirstOffset()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new KeyedJaggedBatch(Keys, 1, [1, 2, 3], [1, 2, 3]));
        Assert.Equal("offsets", ex.ParamName);
        Assert.Equal(1, ex.ActualValue);
    }

    [Fact]
    public void Constructor_ThrowsForNegativeIdNamingArgumentPositionAndValue()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new KeyedJaggedBatch(Keys, 2, [7, 3, -9, 4], [0, 2, 3, 3, 4]));
        Assert.Equal("values", ex.ParamName);
        Assert.Equal(-9L, ex.ActualValue);
        Assert.Contains("values[2] = -9", ex.Message);
    }

    [Fact]
    public void Constructor_ThrowsForTooShortWeights()
    {
        var ex = Assert.Throws<ArgumentException>(() => new KeyedJaggedBatch(Keys, 2, [7, 3, 9, 4], [0, 2, 3, 3, 4], [1f, 1f, 1f]));
        Assert.Equal("weights", ex.ParamName);
        Assert.Contains("length 3", ex.Message);
        Assert.Contains("4 is needed", ex.Message);
    }

    [Fact]
    public void Constructor_ThrowsForTooShortValues()
    {
        var ex = Assert.Throws<ArgumentException>(() => new KeyedJaggedBatch(Keys, 2, [7, 3], [0, 2, 3, 3, 4]));
        Assert.Equal("values", ex.ParamName);
        Assert.Contains("length 2", ex.Message);
        Assert.Contains("4 is needed", ex.Message);
    }

    [Fact]
    public void Constructor_ThrowsForTooShortOffsets()
    {
        // Two features and three samples need 7 offsets.
        var ex = Assert.Throws<ArgumentException>(() => new KeyedJaggedBatch(Keys, 3, [1, 2, 3], [0, 1, 2, 3]));
        Assert.Equal("offsets", ex.ParamName);
        Assert.Contains("length 4", ex.Message);
        Assert.Contains("7 is needed", ex.Message);
    }

    [Fact]
    public void Constructor_ThrowsForNegativeBatchSize()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new KeyedJaggedBatch(Keys, -1, [1], [0, 1]));
        Assert.Equal("batchSize", ex.ParamName);
        Assert.Equal(-1, ex.ActualValue);
    }

    [Fact]
    public void Constructor_ThrowsForDuplicateKeyNamingTheKey()
    {
        var ex = Assert.Throws<ArgumentException>(() => new KeyedJaggedBatch(["C1", "C2", "C1"], 1, [1, 2, 3], [0, 1, 2, 3]));
        Assert.Equal("keys", ex.ParamName);
        Assert.Contains("'C1'", ex.Message);
    }

    [Fact]
    public void Feature_ThrowsForUnknownKeyAndIndex()
    {
        var batch = new KeyedJaggedBatch(Keys, 1, [1, 2], [0, 1, 2]);
        var byName = Assert.Throws<ArgumentException>(() => batch.Feature("C9"));
        Assert.Equal("key", byName.ParamName);
        Assert.Contains("C9", byName.Message);
        var byIndex = Assert.Throws<ArgumentOutOfRangeException>(() => batch.Feature(2));
        Assert.Equal("featureIndex", byIndex.ParamName);
        Assert.Equal(2, byIndex.ActualValue);
    }
}
