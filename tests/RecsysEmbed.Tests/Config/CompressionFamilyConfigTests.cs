using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Core.Tables;
using static RecsysEmbed.Tests.Config.TestConfigs;

namespace RecsysEmbed.Tests.Config;

/// <summary>The lp, tt and robe families in configs: keys, defaults, sizing and errors naming the key.</summary>
public class CompressionFamilyConfigTests
{
    private const string FixedFeatures = """
        sparse_features:
          - {name: a, cardinality: 100}
          - {name: b, cardinality: 1000}
        """;

    [Fact]
    public void Lp_DefaultsToFp16FullRowsAndCountsTwoBytesAWeight()
    {
        var plan = Plan(Model("default_table: {family: lp}", FixedFeatures));
        var t = Assert.IsType<LpTablePlan>(plan.TableOf("b"));
        Assert.Equal(RowPrecision.Fp16, t.Config.Precision);
        Assert.Equal(1000, t.Rows);
        Assert.Equal(1000 * 8 * 2, t.Memory.WeightBytes);
    }

    [Fact]
    public void Lp_Int8WithBucketsHashesIntoThatManyRows()
    {
        var plan = Plan(Model("default_table: {family: lp, precision: int8, buckets: 50}", FixedFeatures));
        var t = Assert.IsType<LpTablePlan>(plan.TableOf("b"));
        Assert.Equal(50, t.Rows);
        Assert.Equal(50 * (8 + 4), t.Memory.WeightBytes);
        using var built = (LowPrecisionTable)t.Build();
        Assert.True(built.Hashed);
    }

    [Fact]
    public void Tt_RankSetsCoreShapes()
    {
        var plan = Plan(Model("default_table: {family: tt, rank: 4}", FixedFeatures));
        var t = Assert.IsType<TtTablePlan>(plan.TableOf("b"));
        // 1000 = 10 x 10 x 10 rows; dim 8 = 2 x 2 x 2.
        Assert.Equal([new MatrixPlan("t_b.g0", 10, 8), new MatrixPlan("t_b.g1", 10, 32), new MatrixPlan("t_b.g2", 10, 8)], t.Matrices);
        Assert.Equal(TensorTrainTable.WeightCountOf(1000, 8, 4), t.Memory.WeightParameters);
    }

    [Fact]
    public void Robe_DefaultTableSharesOneArraySizedFromTheModelBudget()
    {
        var plan = Plan(Model("default_table: {family: robe, block: 2}", FixedFeatures, head: "memory_budget: 4000"));
        var t = Assert.IsType<RobeTablePlan>(Assert.Single(plan.Tables));
        Assert.Equal(1000, t.Size); // 4000 bytes / 4 bytes a weight
        Assert.Equal(2, t.Config.BlockSize);
        Assert.Equal(["a", "b"], t.Features.Select(f => f.Name));
    }

    [Fact]
    public void BadValues_NameTheKey()
    {
        Fails(Model("default_table: {family: lp, precision: fp8}", FixedFeatures), "default_table.precision", "fp8", "fp16 or int8");
        Fails(Model("default_table: {family: tt, rank: 0}", FixedFeatures), "default_table.rank", "0");
        Fails(Model("default_table: {family: robe, size: 100, block: 9}", FixedFeatures), "default_table.block", "9", "dim = 8");
        Fails(Model("default_table: {family: robe, size: 0}", FixedFeatures), "default_table.size", "0");
        Fails(Model("default_table: {family: tt, precision: int8}", FixedFeatures), "default_table.precision", "tt table does not take precision");
        Fails(Model("default_table: {family: lp}", Features), "sparse_features[2].cardinality", "needs a fixed cardinality");
    }
}
