using RecsysEmbed.Core.Config;
using RecsysEmbed.Serving.Model;

namespace RecsysEmbed.Tests.Serving;

/// <summary>Families without row addressing (lp: fp16/int8 rows, not fp32 matrices) are refused naming the table.</summary>
public sealed class UnservedFamilyTests
{
    [Fact]
    public void ModelWithAnLpTable_IsRefusedNamingTheTableAndFamily()
    {
        var config = ModelConfig.Parse("""
            name: tiny
            embedding_dim: 4
            sparse_features: [{name: a, cardinality: 100}, {name: b, cardinality: 100}]
            tables:
              - {name: ta, family: full, features: [a]}
              - {name: tb, family: lp, precision: int8, features: [b]}
            """);
        var e = Assert.Throws<NotSupportedException>(() => ServingModel.Create(config, checkpoint: null));
        Assert.Contains("table 'tb'", e.Message);
        Assert.Contains("family 'lp'", e.Message);
        Assert.Contains("cannot be served", e.Message);
    }
}
