using Confluent.Kafka;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Streaming.Publishing;
using RecsysEmbed.Training;
using RecsysEmbed.Tests.TestData;

namespace RecsysEmbed.Tests.Streaming;

/// <summary>
/// The update topic carries fp32 matrix rows: a model with a low-precision (lp) table is refused before any
/// producer exists, naming the table, rather than published without it.
/// </summary>
public sealed class UpdatePublisherFamilyTests
{
    private static CtrTrainer Trainer(string tables)
    {
        var config = ModelConfig.Parse($$"""
            name: tiny
            {{CriteoTestSchema.DenseFeatures}}
            embedding_dim: 4
            {{CriteoTestSchema.SparseFeatures(("C1", "cardinality: 2000"))}}
            tables: [{{tables}}]
            default_table: {family: hash, buckets: 64}
            model: {kind: dlrm, bottom_mlp: [8], top_mlp: [8]}
            """);
        return TrainingRun.BuildTrainer(config, EmbeddingPlan.Create(config), threads: 1);
    }

    [Fact]
    public void ModelWithAnLpTable_IsRefusedNamingTheTableAndFamily()
    {
        using var trainer = Trainer("{name: c1, family: lp, precision: int8, features: [C1]}");
        var e = Assert.Throws<ArgumentException>(() => UpdatePublisher.RequirePublishable(trainer));
        Assert.Contains("table 'c1' (family lp)", e.Message);
        Assert.Contains("--publish-topic", e.Message);

        // The constructor checks before it builds a producer (nothing listens on this address).
        Assert.Throws<ArgumentException>(() => new UpdatePublisher(new ProducerConfig { BootstrapServers = "127.0.0.1:9" }, "updates", trainer));
    }

    [Fact]
    public void ModelOfMatrixFamilies_IsAccepted()
    {
        using var trainer = Trainer("{name: c1, family: full, features: [C1]}");
        UpdatePublisher.RequirePublishable(trainer);
    }
}
