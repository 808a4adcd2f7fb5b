using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Kernels;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// <see cref="GatherPoolKernel"/> through a full table (whose row map is the identity) against
/// <see cref="GatherPoolKernel.Reference"/>, on dims below, between and above the 8-float vector and the 64-float
/// register tile.
/// </summary>
[Collection(nameof(KernelThreadsCollection))]
public sealed class FullTableGatherKernelTests
{
    private const long Rows = 300;
    private const double RelTol = 1e-5;
    private const double AbsTol = 1e-6;

    public static TheoryData<int> Dims => new() { 1, 3, 8, 13, 16, 32, 48, 64, 70, 96, 128 };

    private static FullTable NewTable(int dim, TableFeature[] features, Random rng)
    {
        var table = new FullTable("t", features, Rows, dim, SparseOptimizerSettings.Sgd(0.1f));
        table.Weights.SetWeights(TableCases.RandomArray(rng, table.Weights.WeightCount));
        return table;
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what) =>
        TorchReference.AssertClose(expected.ToArray().Select(x => (double)x).ToArray(), actual, what, RelTol, AbsTol);

    /// <summary>Two features in one batch: the kernel writes with stride 2 * dim at columns 0 and dim.</summary>
    [Theory]
    [MemberData(nameof(Dims))]
    public void ForwardBatch_MatchesReference_SumAndMeanColumns(int dim)
    {
        var rng = new Random(47 + dim);
        using var table = NewTable(dim, [new TableFeature("a"), new TableFeature("b", PoolingMode.Mean)], rng);
        table.Threads = 1;
        foreach (bool weighted in new[] { false, true })
        {
            var a = BagInput.Random(rng, [0, 1, 17, 150, 299], weighted);
            var b = BagInput.Random(rng, [2, 3, 42, 298], weighted);
            var values = a.Ids.Concat(b.Ids).ToArray();
            var offsets = a.Offsets.Concat(b.Offsets.Skip(1).Select(o => o + a.Ids.Length)).ToArray();
            var weights = weighted ? a.Weights!.Concat(b.Weights!).ToArray() : null;
            var batch = new KeyedJaggedBatch(["a", "b"], a.BagCount, values, offsets, weights);

            var actual = new float[a.BagCount * 2 * dim];
            actual.AsSpan().Fill(float.NaN);
            table.Forward(batch, actual);

            var expected = new float[actual.Length];
            float[] w = table.Weights.CopyWeights();
            GatherPoolKernel.Reference(w, dim, a.Ids, a.Offsets, a.Weights, mean: false, expected, 2 * dim);
            GatherPoolKernel.Reference(w, dim, b.Ids, b.Offsets, b.Weights, mean: true, expected.AsSpan(dim), 2 * dim);
            AssertClose(expected, actual, $"dim {dim}, weighted {weighted}");
        }
    }

    /// <summary>
    /// A view whose offsets start at a non-zero base, with enough ids (2400) for the gather to split bags across two
    /// threads; unpooled lookup too.
    /// </summary>
    [Theory]
    [MemberData(nameof(Dims))]
    public void Forward_MatchesReference_OffsetBaseAndTwoThreads(int dim)
    {
        var rng = new Random(53 + dim);
        using var table = NewTable(dim, [new TableFeature("a", PoolingMode.Mean)], rng);
        table.Threads = 2;
        const int bags = 200, ids = 2400, skip = 5;
        var all = Enumerable.Range(0, ids + skip).Select(_ => rng.NextInt64(Rows)).ToArray();
        var weights = TableCases.RandomArray(rng, ids + skip);
        var offsets = Enumerable.Range(0, bags - 1).Select(_ => rng.Next(ids + 1)).Append(0).Append(ids).Order().Select(o => o + skip).ToArray();
        var view = new JaggedFeature(all.AsSpan(skip), offsets, weights.AsSpan(skip));

        var actual = new float[bags * dim];
        table.Forward(0, view, actual);
        var expected = new float[actual.Length];
        float[] w = table.Weights.CopyWeights();
        GatherPoolKernel.Reference(w, dim, all.AsSpan(skip), offsets, weights.AsSpan(skip), mean: true, expected, dim);
        AssertClose(expected, actual, $"dim {dim} pooled");

        var lookup = new float[ids * dim];
        table.Lookup(0, all.AsSpan(skip), lookup);
        for (int i = 0; i < ids; i++)
        {
            Assert.True(w.AsSpan((int)(all[skip + i] * dim), dim).SequenceEqual(lookup.AsSpan(i * dim, dim)), $"dim {dim}: lookup of id {i}");
        }
    }
}
