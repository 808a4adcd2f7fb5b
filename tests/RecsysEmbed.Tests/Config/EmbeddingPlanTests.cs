using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using static RecsysEmbed.Tests.Config.TestConfigs;

namespace RecsysEmbed.Tests.Config;

public class EmbeddingPlanTests
{
    /// <summary>Small configs covering every family and sizing; each is cheap to build.</summary>
    public static TheoryData<string, string> SmallConfigs => new()
    {
        { "full, shared by two features", "tables:\n  - {name: f, family: full, features: [a, b], dim: 6}\ndefault_table: {family: hash, buckets: 50}" },
        { "hash sum and concat", "tables:\n  - {name: h1, family: hash, buckets: 37, features: [a, d]}\n  - {name: h2, family: hash, buckets: 11, hashes: 3, combine: concat, dim: 4, features: [b, u]}\ndefault_table: {family: full}" },
        { "hash from budgets", "tables:\n  - {name: h1, family: hash, budget: 1000, features: [a]}\n  - {name: h2, family: hash, hashes: 2, features: [b, d]}\n  - {name: h3, family: hash, budget_share: 3, features: [u]}\ndefault_table: {family: full}" },
        { "qr collisions, partitions, radices", "tables:\n  - {name: q1, family: qr, features: [a], collisions: 7, combine: add}\n  - {name: q2, family: qr, features: [b], partitions: 3, combine: concat}\ndefault_table: {family: hash, buckets: 9}" },
        { "qr radices mult", "tables:\n  - {name: q, family: qr, features: [a, b], radices: [10, 20, 5]}\ndefault_table: {family: ue, buckets: 64}" },
        { "md power law, fixed, hot/tail", "tables:\n  - {name: m1, family: md, features: [a], alpha: 0.5}\n  - {name: m2, family: md, features: [b], hot_rows: 100, hot_dim: 8, tail_dim: 2}\n  - {name: m3, family: md, features: [a2], dim: 4}\ndefault_table: {family: hash, buckets: 5}" },
        { "md hot/tail with a hashed tail", "tables:\n  - {name: m1, family: md, features: [a], hot_rows: 20, tail_dim: 2, tail_buckets: 33}\n  - {name: m2, family: md, features: [b], hot_rows: 5, hot_dim: 8, tail_dim: 8, tail_buckets: 1}\ndefault_table: {family: hash, buckets: 5}" },
        { "lp fp16 and hashed int8, tt", "tables:\n  - {name: l1, family: lp, features: [a]}\n  - {name: l2, family: lp, precision: int8, buckets: 64, features: [a2]}\n  - {name: t1, family: tt, rank: 3, features: [b], dim: 12}\ndefault_table: {family: hash, buckets: 5}" },
        { "robe size and budget share", "tables:\n  - {name: r1, family: robe, size: 333, block: 4, features: [a, b]}\ndefault_table: {family: robe, budget_share: 2}" },
        { "ue chunks", "tables:\n  - name: u1\n    family: ue\n    buckets: 300\n    chunks: 2\n    features: [a, {name: b, chunks: 3}, d]\ndefault_table: {family: ue, budget: 4KiB}" },
    };

    private const string FeaturesWithA2 = Features + "\n  - {name: a2, cardinality: 300, weighted: true}";

    private static readonly string[] OptimizerKinds = ["sgd", "adagrad", "rowwise_adagrad", "adam"];

    [Theory]
    [MemberData(nameof(SmallConfigs))]
    public void PlannedMemory_EqualsBuiltTables(string name, string body)
    {
        foreach (var kind in OptimizerKinds)
        {
            var plan = Plan(Model(body + $"\noptimizer: {{kind: {kind}}}", FeaturesWithA2, head: "memory_budget: 64KiB"));
            var tables = plan.Build();
            try
            {
                Assert.Equal(plan.Tables.Count, tables.Count);
                var total = default(TableMemory);
                for (int i = 0; i < tables.Count; i++)
                {
                    var (p, t) = (plan.Tables[i], tables[i]);
                    Assert.Equal(p.Name, t.Name);
                    Assert.Equal(p.Family, t.Family);
                    Assert.Equal(p.Memory, t.Memory);
                    Assert.Equal(p.OutputWidth, t.OutputWidth);
                    Assert.Equal(p.Features, t.Features);
                    Assert.Equal(p.Matrices, t.Matrices.Select(m => new MatrixPlan(m.Name, m.Rows, m.Dim)));
                    total += t.Memory;
                }
                Assert.Equal(plan.Total, total);
                Assert.True(plan.Total.WeightBytes <= 64 * 1024, $"{name} with {kind}: over budget");
            }
            finally
            {
                foreach (var t in tables) t.Dispose();
            }
        }
    }

    [Fact]
    public void UnifiedBuckets_ComeFromWhatTheBudgetLeaves()
    {
        // Fixed: full table a = 100 x 8 x 4 B = 3,200 B. Left: 1 MiB - 3,200 B = 1,045,376 B = 32,668 buckets of 32 B.
        var plan = Plan(Model("tables:\n  - {name: t, family: full, features: [a]}\n  - {name: h, family: ue, features: [b, d, u]}", head: "memory_budget: 1MiB"));
        var ue = Assert.IsType<UnifiedTablePlan>(plan.Tables[1]);
        Assert.Equal((1024 * 1024 - 3200) / 32, ue.Buckets);
        Assert.Equal(32_668, ue.Buckets);
        Assert.Equal(1024 * 1024 - 3200, ue.BudgetBytes);
        Assert.True(plan.Total.WeightBytes <= 1024 * 1024);
        // Optimizer state is reported beside the budget, not inside it: row-wise Adagrad keeps one float per row.
        Assert.Equal((100 + 32_668) * 4L, plan.Total.OptimizerBytes);
    }

    [Fact]
    public void BudgetShares_SplitTheRemainder()
    {
        // 64 KiB, no fixed tables: shares 1 : 3 of 65,536 B -> 16,384 B and 49,152 B -> 512 and 1,536 buckets of 32 B.
        var plan = Plan(Model("tables:\n  - {name: u1, family: ue, features: [a, b]}\n  - {name: u2, family: ue, budget_share: 3, features: [d, u]}", head: "memory_budget: 64KiB"));
        Assert.Equal(512, ((UnifiedTablePlan)plan.Tables[0]).Buckets);
        Assert.Equal(1536, ((UnifiedTablePlan)plan.Tables[1]).Buckets);
        Assert.Equal(64 * 1024, plan.Total.WeightBytes);
    }

    [Fact]
    public void TableBudget_GivesFloorOfBudgetOverRowBytes()
    {
        var plan = Plan(Model("tables:\n  - {name: u, family: ue, budget: 1000, dim: 8, features: [a, b, d, u]}"));
        var ue = (UnifiedTablePlan)plan.Tables[0];
        Assert.Equal(31, ue.Buckets); // 1000 / 32
        Assert.Equal(UnifiedTable.BucketsForBudget(1000, 8, new SparseOptimizerSettings()), ue.Buckets);
    }

    [Fact]
    public void MixedDimensions_FollowThePowerLawRule()
    {
        // alpha 0.25, base 32: lambda = 32 * 16^0.25 = 64, so d = 64 * n^-0.25: n 16 -> 32, 256 -> 16, 65536 -> 4.
        const string features = "sparse_features:\n  - {name: x, cardinality: 256}\n  - {name: y, cardinality: 16}\n  - {name: z, cardinality: 65536}\n  - {name: w, cardinality: 65536}";
        string yaml = "name: md\nembedding_dim: 32\n" + features +
                      "\ntables:\n  - {name: tw, family: md, features: [w], alpha: 0}\ndefault_table: {family: md, alpha: 0.25, min_dim: 4}\n";
        var plan = Plan(yaml);
        int Width(string f) => ((MdTablePlan)plan.TableOf(f)).Blocks.Single().Dim;
        Assert.Equal(16, Width("x"));
        Assert.Equal(32, Width("y"));
        Assert.Equal(4, Width("z"));
        Assert.Equal(32, Width("w")); // its own group: alpha 0 keeps the base width
        Assert.Equal(MixedDimensionRule.Dimensions([256, 16, 65536], 0.25, 32, 4), new[] { Width("x"), Width("y"), Width("z") });
        // Narrow tables project up to embedding_dim; a table at full width needs no projection.
        Assert.Equal(new MatrixPlan("t_x.proj0", 16, 32), plan.TableOf("x").Matrices[1]);
        Assert.Single(plan.TableOf("y").Matrices);
        Assert.All(plan.Tables, t => Assert.Equal(32, t.OutputWidth));
    }

    [Fact]
    public void HotTailMixedDimension_HasTwoBlocks()
    {
        var plan = Plan(Model("tables:\n  - {name: m, family: md, features: [b], hot_rows: 100, tail_dim: 2}\ndefault_table: {family: hash, buckets: 5}"));
        var md = (MdTablePlan)plan.Tables[0];
        Assert.Equal([new MixedDimensionBlock(100, 8), new MixedDimensionBlock(900, 2)], md.Blocks);
        Assert.Equal(["m.b0", "m.b1", "m.proj1"], md.Matrices.Select(m => m.Name));
    }

    [Fact]
    public void HashedTailMixedDimension_SizesTheTailByItsBuckets()
    {
        var plan = Plan(Model("tables:\n  - {name: m, family: md, features: [b], hot_rows: 100, tail_dim: 2, tail_buckets: 37}\ndefault_table: {family: hash, buckets: 5}"));
        var md = (MdTablePlan)plan.Tables[0];
        Assert.Equal([new MixedDimensionBlock(100, 8), new MixedDimensionBlock(37, 2, Hashed: true)], md.Blocks);
        Assert.Equal(1000, md.Cardinality);
        // 100 x 8 hot + 37 x 2 tail + the 2 x 8 projection, whatever the cardinality.
        Assert.Equal((100 * 8 + 37 * 2 + 2 * 8) * sizeof(float), md.Memory.WeightBytes);
        using var table = (MixedDimensionTable)md.Build();
        Assert.True(table.HashedTail);
        Assert.Equal(md.Memory.WeightBytes, table.Memory.WeightBytes);
    }

    [Fact]
    public void QrRadices_FollowTheSizing()
    {
        var plan = Plan(Model("tables:\n  - {name: q1, family: qr, features: [a]}\n  - {name: q2, family: qr, features: [b], partitions: 3}\ndefault_table: {family: hash, buckets: 9}"));
        Assert.Equal([25L, 4L], ((QrTablePlan)plan.Tables[0]).Radices); // default collisions 4: [ceil(100 / 4), 4]
        Assert.Equal(QuotientRemainderTable.BalancedRadices(1000, 3), ((QrTablePlan)plan.Tables[1]).Radices);
        Assert.Equal(QrCombine.Multiply, ((QrTablePlan)plan.Tables[0]).Config.Combine);
    }

    [Fact]
    public void DefaultTable_MakesOneTablePerFeature_OrOneSharedUnifiedTable()
    {
        var perFeature = Plan(Model("tables:\n  - {name: t, family: full, features: [a]}\ndefault_table: {family: hash, buckets: 10}"));
        Assert.Equal(["t", "t_b", "t_d", "t_u"], perFeature.Tables.Select(t => t.Name));
        Assert.All(perFeature.Tables.Skip(1), t => Assert.Equal("default_table", t.Source));
        var shared = Plan(Model("tables:\n  - {name: t, family: full, features: [a]}\ndefault_table: {family: ue, buckets: 10, chunks: 2}"));
        Assert.Equal(["t", "t_default"], shared.Tables.Select(t => t.Name));
        Assert.Equal(["b", "d", "u"], shared.Tables[1].Features.Select(f => f.Name));
        Assert.All(shared.Tables[1].Features, f => Assert.Equal(16, f.OutputDim));
    }

    [Fact]
    public void Baseline_UsesEstimates_AndSkipsUnsizedFeatures()
    {
        string features = Features.Replace("{name: d, cardinality: dynamic}", "{name: d, cardinality: dynamic, cardinality_estimate: 5000}");
        var plan = Plan(Model("default_table: {family: hash, buckets: 10}", features));
        // a 100 + b 1000 + d ~5000 rows of 8 floats; u has no size and is left out.
        Assert.Equal(6100, plan.Baseline.Rows);
        Assert.Equal(6100L * 8 * 4, plan.Baseline.Memory.WeightBytes);
        Assert.Equal(6100L * 4, plan.Baseline.Memory.OptimizerBytes);
        Assert.Equal(["d"], plan.Baseline.EstimatedFeatures);
        Assert.Equal(["u"], plan.Baseline.SkippedFeatures);
        Assert.Equal(6100.0 * 8 / (4 * 10 * 8), plan.CompressionRatio, 12);
    }

    [Fact]
    public void Optimizer_AndDenseOptimizer_AreParsed()
    {
        var config = ModelConfig.Parse(Model("default_table: {family: hash, buckets: 10}\n" +
            "optimizer: {kind: adam, learning_rate: 0.02, eps: 1.0e-6, beta1: 0.8, beta2: 0.99}\n" +
            "dense_optimizer: {kind: adagrad, learning_rate: 0.1, weight_decay: 1.0e-5}"));
        Assert.Equal(SparseOptimizerSettings.Adam(0.02f, 0.8f, 0.99f, 1e-6f), config.Optimizer);
        Assert.Equal(new DenseOptimizerConfig { Kind = DenseOptimizerKind.Adagrad, LearningRate = 0.1, WeightDecay = 1e-5 }, config.DenseOptimizer);
        var defaults = ModelConfig.Parse(Model("default_table: {family: hash, buckets: 10}"));
        Assert.Equal(new SparseOptimizerSettings(), defaults.Optimizer);
        Assert.Equal(new DenseOptimizerConfig(), defaults.DenseOptimizer);
    }

    [Fact]
    public void Features_KeepPoolingWeightsAndCardinality()
    {
        var config = ModelConfig.Parse(Model("default_table: {family: hash, buckets: 10}", FeaturesWithA2, head: "dense_features: [I1, I2]"));
        Assert.Equal(["I1", "I2"], config.DenseFeatures);
        Assert.Equal(new SparseFeatureConfig("b", Cardinality.Fixed(1000), PoolingMode.Mean), config.Feature("b"));
        Assert.True(config.Feature("d").Cardinality.IsDynamic);
        Assert.Equal(Cardinality.Unknown, config.Feature("u").Cardinality);
        Assert.True(config.Feature("a2").Weighted);
        Assert.Equal(PoolingMode.Mean, Plan(Model("default_table: {family: hash, buckets: 10}")).TableOf("b").Features[0].Pooling);
    }

    [Fact]
    public void Seeds_DependOnHashSeedAndTableName()
    {
        const string body = "tables:\n  - {name: h1, family: hash, buckets: 10, features: [a, b]}\n  - {name: h2, family: hash, buckets: 10, features: [d, u]}";
        var one = Plan(Model(body));
        var two = Plan(Model(body, head: "hash_seed: 2"));
        Assert.NotEqual(one.Tables[0].Seed, one.Tables[1].Seed);
        Assert.NotEqual(one.Tables[0].Seed, two.Tables[0].Seed);
        Assert.Equal(one.Tables[0].Seed, Plan(Model(body)).Tables[0].Seed);
    }
}
