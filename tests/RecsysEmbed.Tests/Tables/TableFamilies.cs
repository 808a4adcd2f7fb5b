using System.Runtime.InteropServices;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

/// <summary>Small tables of every family, a batch for each, and bit-exact snapshots of a table's trainable state.</summary>
internal static class TableFamilies
{
    public static readonly string[] Names = ["full", "hash", "qr", "qr-mul", "md", "md-hashed", "ue", "lp-fp16", "lp-int8", "tt", "robe"];

    public static TheoryData<string> All
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var n in Names) data.Add(n);
            return data;
        }
    }

    /// <summary>Ids of every table below are valid in [0, Cardinality).</summary>
    public const long Cardinality = 20;

    public static IEmbeddingTable Create(string family, SparseOptimizerSettings? optimizer = null)
    {
        var opt = optimizer ?? SparseOptimizerSettings.Adam(0.05f);
        var init = new TableInit(0.5f, Seed: 3);
        TableFeature[] two = [new("C1"), new("C2", PoolingMode.Mean)];
        return family switch
        {
            "full" => new FullTable("full", two, Cardinality, 4, opt, init),
            "hash" => new HashedTable("hash", two, 16, 4, 2, HashCombine.Concat, opt, seed: 7, init: init),
            "qr" => new QuotientRemainderTable("qr", two, Cardinality, 4, [4, 5], QrCombine.Add, opt, init: init),
            "qr-mul" => new QuotientRemainderTable("qr-mul", two, Cardinality, 4, [3, 3, 3], QrCombine.Multiply, opt, init: init),
            "md" => new MixedDimensionTable("md", new TableFeature("C1"), Cardinality, [new MixedDimensionBlock(5, 8), new MixedDimensionBlock(15, 4)], 8, opt, init: init),
            "md-hashed" => new MixedDimensionTable("md", new TableFeature("C1"), Cardinality, [new MixedDimensionBlock(5, 8), new MixedDimensionBlock(7, 4, Hashed: true)], 8, opt, seed: 3, init: init),
            "ue" => new UnifiedTable("ue", [new UnifiedFeature("C1", Chunks: 2), new UnifiedFeature("C2", Pooling: PoolingMode.Mean)], 16, 4, opt, seed: 9, init: init),
            "lp-fp16" => new LowPrecisionTable("lp", two, Cardinality, 4, RowPrecision.Fp16, opt, init: init),
            "lp-int8" => new LowPrecisionTable("lp", two, 8, 4, RowPrecision.Int8, opt, hashed: true, seed: 5, init: init),
            "tt" => new TensorTrainTable("tt", two, Cardinality, 8, 2, opt, init: init),
            "robe" => new RobeTable("robe", two, 29, 4, 2, opt, seed: 9, init: init),
            _ => throw new ArgumentOutOfRangeException(nameof(family), family, null),
        };
    }

    /// <summary>A batch of 3 samples with every feature the table serves (ids below Cardinality, some repeated, one empty bag).</summary>
    public static KeyedJaggedBatch Batch(IEmbeddingTable table)
    {
        var keys = table.Features.Select(f => f.Name).ToArray();
        var builder = new KeyedJaggedBatchBuilder(keys);
        long[][] bags = [[1, 7, 1], [19], [], [0, 3, 3, 12]];
        for (int s = 0; s < 3; s++)
        {
            for (int f = 0; f < keys.Length; f++)
                foreach (long id in bags[(s + f) % bags.Length]) builder.AddId(f, id);
            builder.EndSample();
        }
        return builder.Build();
    }

    /// <summary>A gradient of the batch output's shape with a fixed seed.</summary>
    public static float[] Gradient(int length, int seed)
    {
        var rng = new Random(seed);
        var g = new float[length];
        for (int i = 0; i < g.Length; i++) g[i] = (float)(rng.NextDouble() * 2 - 1);
        return g;
    }

    /// <summary>Bit patterns of all weights and optimizer state, plus step counts.</summary>
    public sealed record Snapshot(int[][] Weights, int[][] State, long[] Steps);

    public static Snapshot Capture(IEmbeddingTable table)
    {
        if (table is LowPrecisionTable lp)
        {
            var lpState = new List<int>();
            for (long r = 0; r < lp.Rows; r++) lpState.AddRange(MemoryMarshal.Cast<float, int>(lp.StateRow(r)).ToArray());
            return new Snapshot([MemoryMarshal.Cast<float, int>(lp.CopyWeights()).ToArray()], [lpState.ToArray()], [lp.StepCount]);
        }
        var m = table.Matrices;
        var weights = new int[m.Count][];
        var state = new int[m.Count][];
        var steps = new long[m.Count];
        for (int i = 0; i < m.Count; i++)
        {
            weights[i] = MemoryMarshal.Cast<float, int>(m[i].CopyWeights()).ToArray();
            var s = new List<int>();
            if (m[i].StateWidth > 0)
                for (long r = 0; r < m[i].Rows; r++) s.AddRange(MemoryMarshal.Cast<float, int>(m[i].StateRow(r)).ToArray());
            state[i] = s.ToArray();
            steps[i] = m[i].StepCount;
        }
        return new Snapshot(weights, state, steps);
    }

    public static void AssertUnchanged(Snapshot before, IEmbeddingTable table) => AssertSame(before, Capture(table), table.Name);

    public static void AssertSame(Snapshot expected, Snapshot actual, string what)
    {
        Assert.Equal(expected.Steps, actual.Steps);
        for (int i = 0; i < expected.Weights.Length; i++)
        {
            Assert.True(expected.Weights[i].AsSpan().SequenceEqual(actual.Weights[i]), $"{what}: weights of matrix {i} changed");
            Assert.True(expected.State[i].AsSpan().SequenceEqual(actual.State[i]), $"{what}: optimizer state of matrix {i} changed");
        }
    }
}
