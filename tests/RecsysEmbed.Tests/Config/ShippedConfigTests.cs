using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using static RecsysEmbed.Tests.Config.TestConfigs;

namespace RecsysEmbed.Tests.Config;

/// <summary>The configs in configs/ load and plan (never built: the full Criteo tables take 2.2 GB).</summary>
public class ShippedConfigTests
{
    private const long CriteoIds = 33_762_577;

    private static IEnumerable<string> FileNames() => Directory.GetFiles(ConfigsDirectory, "*.yaml").Select(f => Path.GetFileName(f));

    public static TheoryData<string> Files => new(FileNames());

    [Theory]
    [MemberData(nameof(Files))]
    public void LoadsAndPlans(string file)
    {
        var config = ModelConfig.Load(ShippedConfig(file));
        var plan = EmbeddingPlan.Create(config);
        Assert.Equal(Path.GetFileNameWithoutExtension(file), config.Name);
        Assert.Equal(16, config.EmbeddingDim);
        Assert.All(config.SparseFeatures, f => Assert.Single(plan.Tables, t => t.Features.Any(s => s.Name == f.Name)));
        if (config.MemoryBudgetBytes is { } budget) Assert.InRange(plan.Total.WeightBytes, 1, budget);
        Assert.True(plan.CompressionRatio >= 1);
    }

    [Fact]
    public void ShipsTheExpectedConfigs() =>
        Assert.Equal(["avazu-ue.yaml", "criteo-full.yaml", "criteo-hash.yaml", "criteo-md.yaml", "criteo-qr.yaml", "criteo-ue.yaml"],
                     FileNames().Order(StringComparer.Ordinal));

    [Theory]
    [InlineData("criteo-full.yaml")]
    [InlineData("criteo-ue.yaml")]
    [InlineData("criteo-qr.yaml")]
    [InlineData("criteo-md.yaml")]
    [InlineData("criteo-hash.yaml")]
    public void CriteoConfigs_HaveTheKaggleShape(string file)
    {
        var config = ModelConfig.Load(ShippedConfig(file));
        Assert.Equal(Enumerable.Range(1, 13).Select(i => $"I{i}"), config.DenseFeatures);
        Assert.Equal(Enumerable.Range(1, 26).Select(i => $"C{i}"), config.SparseFeatures.Select(f => f.Name));
        Assert.Equal(CriteoIds, config.SparseFeatures.Sum(f => f.Cardinality.Rows!.Value));
        Assert.Equal(10_131_227, config.Feature("C3").Cardinality.Rows);
        Assert.Equal(CriteoIds * 16 * 4, EmbeddingPlan.Create(config).Baseline.Memory.WeightBytes);
    }

    [Fact]
    public void CriteoFull_IsTheBaseline()
    {
        var plan = EmbeddingPlan.Create(ModelConfig.Load(ShippedConfig("criteo-full.yaml")));
        Assert.Equal(26, plan.Tables.Count);
        Assert.All(plan.Tables, t => Assert.Equal("full", t.Family));
        Assert.Equal(plan.Baseline.Memory, plan.Total);
        Assert.Equal(2_160_804_928, plan.Total.WeightBytes);
        Assert.Equal(1.0, plan.CompressionRatio);
    }

    [Fact]
    public void CriteoFamilies_CompressTheBaseline()
    {
        double Ratio(string file) => EmbeddingPlan.Create(ModelConfig.Load(ShippedConfig(file))).CompressionRatio;
        Assert.InRange(Ratio("criteo-ue.yaml"), 32, 33);   // 2.16 GB / 64 MiB
        Assert.InRange(Ratio("criteo-hash.yaml"), 8, 8.1); // 2.16 GB / 256 MiB
        Assert.InRange(Ratio("criteo-qr.yaml"), 3.5, 4.5); // 4 collisions on the large features
        Assert.InRange(Ratio("criteo-md.yaml"), 3, 5);     // width 4 of 16 on the large features
    }

    [Fact]
    public void AvazuUe_CountsDynamicFeaturesWithTheirEstimates()
    {
        var plan = EmbeddingPlan.Create(ModelConfig.Load(ShippedConfig("avazu-ue.yaml")));
        Assert.Equal(22, plan.Config.SparseFeatures.Count);
        Assert.Equal(["device_id", "device_ip"], plan.Baseline.EstimatedFeatures);
        Assert.Empty(plan.Baseline.SkippedFeatures);
        var ue = Assert.IsType<UnifiedTablePlan>(Assert.Single(plan.Tables));
        Assert.Equal(32L * 1024 * 1024 / 64, ue.Buckets);
        Assert.Equal(32, ue.Features.Single(f => f.Name == "device_ip").OutputDim);
        Assert.Equal(16, ue.Features.Single(f => f.Name == "site_id").OutputDim);
    }

    [Fact]
    public void ReadmeExample_Plans()
    {
        string readme = File.ReadAllText(Path.Combine(ConfigsDirectory, "README.md"));
        int start = readme.IndexOf("```yaml\n", StringComparison.Ordinal) + "```yaml\n".Length;
        string yaml = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];
        var plan = EmbeddingPlan.Create(ModelConfig.Parse(yaml));
        Assert.Equal(["t_item", "t_shared", "t_country"], plan.Tables.Select(t => t.Name));
        Assert.Equal(32L << 20, plan.Total.WeightBytes);
    }
}
