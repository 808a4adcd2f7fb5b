using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

public class TableMemoryTests
{
    public static TheoryData<SparseOptimizerKind> Kinds =>
        new(SparseOptimizerKind.Sgd, SparseOptimizerKind.Adagrad, SparseOptimizerKind.RowWiseAdagrad, SparseOptimizerKind.Adam);

    private static SparseOptimizerSettings Optimizer(SparseOptimizerKind kind) => new() { Kind = kind, LearningRate = 0.1f };

    // Optimizer state of a rows x dim matrix, by hand: none; one per weight; one per row; two per weight.
    private static long State(SparseOptimizerKind kind, long rows, int dim) => kind switch
    {
        SparseOptimizerKind.Sgd => 0,
        SparseOptimizerKind.Adagrad => rows * dim,
        SparseOptimizerKind.RowWiseAdagrad => rows,
        _ => 2 * rows * dim,
    };

    private static void AssertMemory(TableMemory memory, long weights, long state)
    {
        Assert.Equal(weights, memory.WeightParameters);
        Assert.Equal(4 * weights, memory.WeightBytes);
        Assert.Equal(state, memory.OptimizerParameters);
        Assert.Equal(4 * state, memory.OptimizerBytes);
        Assert.Equal(4 * (weights + state), memory.TotalBytes);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void FullTable_Memory(SparseOptimizerKind kind)
    {
        using var t = new FullTable("t", [new TableFeature("C1"), new TableFeature("C2")], 100, 8, Optimizer(kind));
        AssertMemory(t.Memory, 800, State(kind, 100, 8));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void HashedTable_MemoryIgnoresHashCount(SparseOptimizerKind kind)
    {
        using var t = new HashedTable("t", [new TableFeature("C1")], 64, 4, 3, HashCombine.Concat, Optimizer(kind));
        AssertMemory(t.Memory, 64 * 4, State(kind, 64, 4));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void QuotientRemainderTable_MemoryIsSumOfPartitions(SparseOptimizerKind kind)
    {
        using var t = new QuotientRemainderTable("t", [new TableFeature("C1")], 1000, 4, [8, 125], QrCombine.Concat, Optimizer(kind));
        AssertMemory(t.Memory, (8 + 125) * 4, State(kind, 8, 4) + State(kind, 125, 4));

        using var k3 = new QuotientRemainderTable("t3", [new TableFeature("C1")], 1000, 6, [10, 10, 10], QrCombine.Multiply, Optimizer(kind));
        AssertMemory(k3.Memory, 30 * 6, 3 * State(kind, 10, 6));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void MixedDimensionTable_MemoryCountsBlocksAndProjections(SparseOptimizerKind kind)
    {
        // Hot block 10 x 16 (no projection), tail 90 x 4 with a 4 x 16 projection.
        using var t = new MixedDimensionTable("t", new TableFeature("C1"), 100,
            [new MixedDimensionBlock(10, 16), new MixedDimensionBlock(90, 4)], 16, Optimizer(kind));
        AssertMemory(t.Memory, 10 * 16 + 90 * 4 + 4 * 16,
            State(kind, 10, 16) + State(kind, 90, 4) + State(kind, 4, 16));

        // Per-feature variant at full width: just the rows.
        using var full = new MixedDimensionTable("f", new TableFeature("C1"), 30, [new MixedDimensionBlock(30, 8)], 8, Optimizer(kind));
        AssertMemory(full.Memory, 240, State(kind, 30, 8));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void UnifiedTable_MemoryIgnoresFeaturesAndChunks(SparseOptimizerKind kind)
    {
        using var t = new UnifiedTable("t", [new UnifiedFeature("C1", Chunks: 3), new UnifiedFeature("C2")], 50, 6, Optimizer(kind));
        AssertMemory(t.Memory, 300, State(kind, 50, 6));
    }

    [Fact]
    public void TableMemory_AddsComponentWise()
    {
        var a = new TableMemory(1, 4, 2, 8);
        var b = new TableMemory(10, 40, 20, 80);
        Assert.Equal(new TableMemory(11, 44, 22, 88), a + b);
        Assert.Equal(132, (a + b).TotalBytes);
    }
}
