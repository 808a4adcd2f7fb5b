using System.Runtime.InteropServices;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Kernels;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// Tests that split kernels across the shared <see cref="KernelThreads"/> pool. The pool runs every part on the
/// calling thread when another table holds it, so these tests run alone to make sure the split really happens.
/// </summary>
[CollectionDefinition(nameof(KernelThreadsCollection), DisableParallelization = true)]
public sealed class KernelThreadsCollection { }

/// <summary>
/// The same forward and backward steps with Threads = 1 and Threads = 2 must give bit-identical outputs, weights and
/// optimizer state. Batches have 4096 ids per feature (the gather splits bags from 2048) drawn from 4096 values, so
/// about 2600 distinct rows (the update splits rows from 1024).
/// </summary>
[Collection(nameof(KernelThreadsCollection))]
public sealed class ThreadDeterminismTests
{
    private const int Bags = 256;
    private const int IdsPerFeature = 4096;
    private const long IdRange = 4096;

    public static TheoryData<string, SparseOptimizerKind> Cases()
    {
        var data = new TheoryData<string, SparseOptimizerKind>();
        foreach (string family in new[] { "full", "hash", "qr", "qr-mult", "md", "md-hashed", "ue", "lp", "tt", "robe" })
        {
            data.Add(family, SparseOptimizerKind.Adam);
            data.Add(family, SparseOptimizerKind.RowWiseAdagrad);
        }
        return data;
    }

    private static IEmbeddingTable Create(string family, SparseOptimizerSettings opt) => family switch
    {
        // Dim 64: the 64-column register tile of the gather kernel.
        "full" => new FullTable("full", [new TableFeature("a"), new TableFeature("b", PoolingMode.Mean)], IdRange, 64, opt),
        "hash" => new HashedTable("hash", [new TableFeature("a"), new TableFeature("b", PoolingMode.Mean)], 3000, 13, 2, HashCombine.Concat, opt),
        "qr" => new QuotientRemainderTable("qr", [new TableFeature("a"), new TableFeature("b", PoolingMode.Mean)], IdRange, 16, [2048, 2], QrCombine.Add, opt),
        "qr-mult" => new QuotientRemainderTable("qr", [new TableFeature("a")], IdRange, 16, [2048, 2], QrCombine.Multiply, opt),
        "md" => new MixedDimensionTable("md", new TableFeature("a", PoolingMode.Mean), IdRange, [new(256, 32), new(IdRange - 256, 8)], 32, opt),
        "md-hashed" => new MixedDimensionTable("md", new TableFeature("a", PoolingMode.Mean), IdRange, [new(256, 32), new(500, 8, Hashed: true)], 32, opt),
        "ue" => new UnifiedTable("ue", [new UnifiedFeature("a", 2), new UnifiedFeature("b", 1, PoolingMode.Mean)], 4096, 16, opt),
        "lp" => new LowPrecisionTable("lp", [new TableFeature("a"), new TableFeature("b", PoolingMode.Mean)], IdRange, 16, RowPrecision.Int8, opt),
        "tt" => new TensorTrainTable("tt", [new TableFeature("a"), new TableFeature("b", PoolingMode.Mean)], IdRange, 16, 4, opt),
        "robe" => new RobeTable("robe", [new TableFeature("a"), new TableFeature("b", PoolingMode.Mean)], 50_000, 16, 8, opt),
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, "unknown family"),
    };

    private static KeyedJaggedBatch RandomBatch(Random rng)
    {
        string[] keys = ["a", "b"];
        var values = new long[keys.Length * IdsPerFeature];
        for (int i = 0; i < values.Length; i++) values[i] = rng.NextInt64(IdRange);
        var weights = TableCases.RandomArray(rng, values.Length);
        // Random bag lengths summing to IdsPerFeature per feature, some empty.
        var offsets = new int[keys.Length * Bags + 1];
        for (int f = 0; f < keys.Length; f++)
        {
            var cuts = Enumerable.Range(0, Bags - 1).Select(_ => rng.Next(IdsPerFeature + 1)).Append(0).Append(IdsPerFeature).Order().ToArray();
            for (int b = 0; b < Bags; b++) offsets[f * Bags + b + 1] = f * IdsPerFeature + cuts[b + 1];
        }
        return new KeyedJaggedBatch(keys, Bags, values, offsets, weights);
    }

    private static bool BitEqual(ReadOnlySpan<float> a, ReadOnlySpan<float> b) =>
        MemoryMarshal.Cast<float, int>(a).SequenceEqual(MemoryMarshal.Cast<float, int>(b));

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardBackward_OneAndTwoThreads_BitIdentical(string family, SparseOptimizerKind kind)
    {
        var opt = kind == SparseOptimizerKind.Adam ? SparseOptimizerSettings.Adam(0.01f) : SparseOptimizerSettings.RowWiseAdagrad(0.05f);
        using var single = Create(family, opt);
        using var multi = Create(family, opt);
        single.Threads = 1;
        multi.Threads = 2;
        for (int i = 0; i < single.Matrices.Count; i++) multi.Matrices[i].SetWeights(single.Matrices[i].CopyWeights());

        var rng = new Random(43);
        for (int step = 0; step < 3; step++)
        {
            var batch = RandomBatch(rng);
            Assert.True(batch.Feature(0).Ids.ToArray().Distinct().Count() >= 1024);
            var out1 = new float[Bags * single.OutputWidth];
            var out2 = new float[Bags * multi.OutputWidth];
            single.Forward(batch, out1);
            multi.Forward(batch, out2);
            Assert.True(BitEqual(out1, out2), $"{family} step {step}: forward differs between 1 and 2 threads");

            float[] grad = TableCases.RandomArray(rng, out1.Length);
            single.Backward(batch, grad);
            multi.Backward(batch, grad);
        }

        for (int i = 0; i < single.Matrices.Count; i++)
        {
            EmbeddingMatrix a = single.Matrices[i], b = multi.Matrices[i];
            Assert.True(BitEqual(a.CopyWeights(), b.CopyWeights()), $"{family}: weights of {a.Name} differ between 1 and 2 threads");
            for (long r = 0; r < a.Rows; r++)
                Assert.True(BitEqual(a.StateRow(r), b.StateRow(r)), $"{family}: state of {a.Name} row {r} differs between 1 and 2 threads");
            Assert.Equal(a.StepCount, b.StepCount);
        }
        // Also covers families without fp32 matrices (lp: stored rows, state and step count).
        TableFamilies.AssertSame(TableFamilies.Capture(single), TableFamilies.Capture(multi), family);
    }
}
