using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Hashing;

namespace RecsysEmbed.Tests.Batching;

public class KeyedJaggedBatchBuilderTests
{
    private static readonly string[] Keys = ["C1", "C2"];

    // Samples used by several tests:
    //   sample 0: C1 [7 3]   C2 [1]
    //   sample 1: C1 [9]     C2 []
    //   sample 2: C1 []      C2 [8 5]
    private static void AddThreeSamples(KeyedJaggedBatchBuilder b, long shift = 0)
    {
        b.AddId(0, 7 + shift); b.AddId(0, 3 + shift); b.AddId(1, 1 + shift); b.EndSample();
        b.AddId(0, 9 + shift); b.EndSample();
        b.AddId(1, 8 + shift); b.AddId(1, 5 + shift); b.EndSample();
    }

    [Fact]
    public void Build_LaysOutValuesAndOffsetsFeatureMajor()
    {
        var builder = new KeyedJaggedBatchBuilder(Keys);
        AddThreeSamples(builder);
        var batch = builder.Build();

        Assert.Equal(Keys, batch.Keys);
        Assert.Equal(3, batch.BatchSize);
        Assert.False(batch.HasWeights);
        Assert.Equal(new long[] { 7, 3, 9, 1, 8, 5 }, batch.Values.ToArray());
        Assert.Equal(new[] { 0, 2, 3, 3, 4, 4, 6 }, batch.Offsets.ToArray());
        Assert.Equal(6, batch.ValueCount);
        Assert.True(batch.Weights.IsEmpty);
    }

    [Fact]
    public void Build_FeatureViewsMatchPerFeatureBags()
    {
        var builder = new KeyedJaggedBatchBuilder(Keys);
        AddThreeSamples(builder);
        var batch = builder.Build();

        var c1 = batch.Feature("C1");
        Assert.Equal(3, c1.BagCount);
        Assert.Equal(new long[] { 7, 3, 9 }, c1.Ids.ToArray());
        Assert.Equal([2, 1, 0], new[] { c1.BagLength(0), c1.BagLength(1), c1.BagLength(2) });

        var c2 = batch.Feature(1);
        Assert.Equal(new long[] { 1, 8, 5 }, c2.Ids.ToArray());
        Assert.Equal(3, c2.Offsets[0]); // a view keeps the global offsets; bag starts are relative
        Assert.Equal([0, 1, 1], new[] { c2.BagStart(0), c2.BagStart(1), c2.BagStart(2) });
        Assert.Equal([1, 0, 2], new[] { c2.BagLength(0), c2.BagLength(1), c2.BagLength(2) });
    }

    [Fact]
    public void Build_WeightedBuilderKeepsWeightsAlongsideValues()
    {
        var builder = new KeyedJaggedBatchBuilder(Keys, weighted: true);
        builder.AddId(0, 4, 0.5f); builder.AddId(1, 6, 2f); builder.EndSample();
        builder.AddId(1, 2, -1f); builder.AddId(0, 1); builder.EndSample();
        var batch = builder.Build();

        Assert.True(batch.HasWeights);
        Assert.Equal(new long[] { 4, 1, 6, 2 }, batch.Values.ToArray());
        Assert.Equal(new[] { 0.5f, 1f, 2f, -1f }, batch.Weights.ToArray());
        Assert.Equal(new[] { 0, 1, 2, 3, 4 }, batch.Offsets.ToArray());
        var c2 = batch.Feature("C2");
        Assert.Equal(new[] { 2f, -1f }, c2.Weights.ToArray());
    }

    [Fact]
    public void Build_AllBagsEmptyGivesZeroValuesAndFlatOffsets()
    {
        var builder = new KeyedJaggedBatchBuilder(Keys);
        for (int s = 0; s < 4; s++) builder.EndSample();
        var batch = builder.Build();

        Assert.Equal(4, batch.BatchSize);
        Assert.Equal(0, batch.ValueCount);
        Assert.True(batch.Values.IsEmpty);
        Assert.Equal(new int[9], batch.Offsets.ToArray());
        Assert.Equal(4, batch.Feature(1).BagCount);
        Assert.True(batch.Feature(1).Ids.IsEmpty);
    }

    [Fact]
    public void Build_WithNoSamplesGivesEmptyBatch()
    {
        var builder = new KeyedJaggedBatchBuilder(Keys);
        var batch = builder.Build();
        Assert.Equal(0, batch.BatchSize);
        Assert.Equal(new[] { 0 }, batch.Offsets.ToArray());
        Assert.Equal(0, batch.Feature(0).BagCount);
    }

    [Fact]
    public void Build_ClearsTheBuilderForTheNextBatch()
    {
        var builder = new KeyedJaggedBatchBuilder(Keys);
        AddThreeSamples(builder);
        builder.Build();
        Assert.Equal(0, builder.SampleCount);
        builder.AddId(1, 42); builder.EndSample();
        var batch = builder.Build();
        Assert.Equal(new long[] { 42 }, batch.Values.ToArray());
        Assert.Equal(new[] { 0, 0, 1 }, batch.Offsets.ToArray());
    }

    [Fact]
    public void Build_ThrowsForUnfinishedSample()
    {
        var builder = new KeyedJaggedBatchBuilder(Keys);
        builder.AddId(1, 5);
        var ex = Assert.Throws<ArgumentException>(() => builder.Build());
        Assert.Contains("C2", ex.Message);
        Assert.Contains("EndSample", ex.Message);
    }

    [Fact]
    public void AddId_ThrowsForNegativeIdNamingArgumentAndValue()
    {
        var builder = new KeyedJaggedBatchBuilder(Keys);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => builder.AddId(1, -3));
        Assert.Equal("id", ex.ParamName);
        Assert.Equal(-3L, ex.ActualValue);
        Assert.Contains("C2", ex.Message);
    }

    [Fact]
    public void AddId_ThrowsForWeightOnUnweightedBuilderAndKeepsState()
    {
        var builder = new KeyedJaggedBatchBuilder(Keys);
        builder.AddId(0, 1);
        var ex = Assert.Throws<ArgumentException>(() => builder.AddId(0, 2, 0.5f));
        Assert.Equal("weight", ex.ParamName);
        Assert.Contains("0.5", ex.Message);
        builder.EndSample();
        var batch = builder.Build();
        Assert.Equal(new long[] { 1 }, batch.Values.ToArray()); // the refused id was not kept
    }

    [Fact]
    public void Build_ReuseReturnsSameInstanceWithSameContentAsFreshBuild()
    {
        var builder = new KeyedJaggedBatchBuilder(Keys, weighted: true);
        AddThreeSamples(builder);
        var first = builder.Build();
        long[] values = first.RawValues;
        int[] offsets = first.RawOffsets;
        float[]? weights = first.RawWeights;

        // A smaller second batch fits the first batch's buffers.
        builder.AddId(0, 11, 0.25f); builder.EndSample();
        builder.AddId(1, 12, 4f); builder.EndSample();
        var reused = builder.Build(first);

        var fresh = new KeyedJaggedBatchBuilder(Keys, weighted: true);
        fresh.AddId(0, 11, 0.25f); fresh.EndSample();
        fresh.AddId(1, 12, 4f); fresh.EndSample();
        var expected = fresh.Build();

        Assert.Same(first, reused);
        Assert.Same(values, reused.RawValues);
        Assert.Same(offsets, reused.RawOffsets);
        Assert.Same(weights, reused.RawWeights);
        AssertSameContent(expected, reused);
    }

    [Fact]
    public void Build_ReuseGrowsBuffersWhenTheBatchIsLarger()
    {
        var builder = new KeyedJaggedBatchBuilder(Keys);
        builder.AddId(0, 1); builder.EndSample();
        var first = builder.Build();

        var fresh = new KeyedJaggedBatchBuilder(Keys);
        for (int s = 0; s < 50; s++)
        {
            for (int k = 0; k < s % 4; k++) { builder.AddId(0, s * 10 + k); fresh.AddId(0, s * 10 + k); }
            for (int k = 0; k < s % 3; k++) { builder.AddId(1, s * 100 + k); fresh.AddId(1, s * 100 + k); }
            builder.EndSample(); fresh.EndSample();
        }
        var reused = builder.Build(first);
        Assert.Same(first, reused);
        AssertSameContent(fresh.Build(), reused);
    }

    [Fact]
    public void Build_ReuseAfterGrowthKeepsBuffersStable()
    {
        var builder = new KeyedJaggedBatchBuilder(Keys);
        AddThreeSamples(builder);
        var batch = builder.Build();
        AddThreeSamples(builder, shift: 100);
        batch = builder.Build(batch);
        long[] values = batch.RawValues;
        int[] offsets = batch.RawOffsets;

        AddThreeSamples(builder, shift: 200);
        long before = GC.GetAllocatedBytesForCurrentThread();
        batch = builder.Build(batch);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Same(values, batch.RawValues);
        Assert.Same(offsets, batch.RawOffsets);
        Assert.Equal(0, allocated);
        Assert.Equal(new long[] { 207, 203, 209, 201, 208, 205 }, batch.Values.ToArray());
    }

    [Fact]
    public void AddRaw_HashesThroughThePerFeatureHasher()
    {
        const ulong seed = 12345;
        var builder = new KeyedJaggedBatchBuilder(Keys, hashSeed: seed);
        builder.AddString(0, "68fd1e64"); builder.AddInt64(1, 42); builder.EndSample();
        builder.AddUtf8(0, "abc"u8); builder.AddString(1, "42"); builder.EndSample();
        var batch = builder.Build();

        var h1 = new IdHasher("C1", seed);
        var h2 = new IdHasher("C2", seed);
        Assert.Equal(h1.Seed, builder.Hasher(0).Seed);
        Assert.Equal(h2.Seed, builder.Hasher(1).Seed);
        Assert.Equal(
            new[] { h1.HashString("68fd1e64"), h1.HashUtf8("abc"u8), h2.HashInt64(42), h2.HashString("42") },
            batch.Values.ToArray());
        Assert.Equal(h1.HashString("abc"), batch.Values[1]); // string and its UTF-8 bytes agree
    }

    [Fact]
    public void EndSample_AndAddId_AllocateNothingInSteadyState()
    {
        const int samples = 256;
        var builder = new KeyedJaggedBatchBuilder(["C1", "C2", "C3"], weighted: true);
        char[] raw = "68fd1e64".ToCharArray();
        var rng = new Random(7);
        var lengths = new int[samples * 3];
        for (int i = 0; i < lengths.Length; i++) lengths[i] = rng.Next(0, 6);

        void Fill()
        {
            for (int s = 0; s < samples; s++)
            {
                for (int k = 0; k < lengths[s * 3]; k++) builder.AddId(0, s + k, 0.5f);
                for (int k = 0; k < lengths[s * 3 + 1]; k++) builder.AddInt64(1, s * 7 + k);
                for (int k = 0; k < lengths[s * 3 + 2]; k++) builder.AddString(2, raw, 2f);
                builder.EndSample();
            }
        }

        // Warm-up: grows the builder's buffers and the reused batch's, and lets the JIT settle.
        KeyedJaggedBatch? batch = null;
        for (int round = 0; round < 5; round++)
        {
            Fill();
            batch = builder.Build(batch);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        Fill();
        long afterFill = GC.GetAllocatedBytesForCurrentThread();
        batch = builder.Build(batch);
        long afterBuild = GC.GetAllocatedBytesForCurrentThread();

        Assert.Equal(0, afterFill - before);
        Assert.Equal(0, afterBuild - afterFill);
        Assert.Equal(samples, batch.BatchSize);
    }

    internal static void AssertSameContent(KeyedJaggedBatch expected, KeyedJaggedBatch actual)
    {
        Assert.Equal(expected.Keys, actual.Keys);
        Assert.Equal(expected.BatchSize, actual.BatchSize);
        Assert.Equal(expected.ValueCount, actual.ValueCount);
        Assert.Equal(expected.Values.ToArray(), actual.Values.ToArray());
        Assert.Equal(expected.Offsets.ToArray(), actual.Offsets.ToArray());
        Assert.Equal(expected.HasWeights, actual.HasWeights);
        Assert.Equal(expected.Weights.ToArray(), actual.Weights.ToArray());
        for (int f = 0; f < expected.Keys.Count; f++)
        {
            Assert.Equal(expected.Feature(f).Ids.ToArray(), actual.Feature(f).Ids.ToArray());
            Assert.Equal(expected.Feature(f).Offsets.ToArray(), actual.Feature(f).Offsets.ToArray());
        }
    }
}
