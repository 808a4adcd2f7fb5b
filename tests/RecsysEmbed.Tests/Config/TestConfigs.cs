using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;

namespace RecsysEmbed.Tests.Config;

/// <summary>Small YAML configs and helpers shared by the config tests.</summary>
internal static class TestConfigs
{
    /// <summary>Four features: two fixed, one dynamic, one without a cardinality.</summary>
    public const string Features = """
        sparse_features:
          - {name: a, cardinality: 100}
          - {name: b, cardinality: 1000, pooling: mean}
          - {name: d, cardinality: dynamic}
          - {name: u}
        """;

    /// <summary>A model named "test" with embedding_dim 8, <see cref="Features"/>, and the given extra YAML.</summary>
    public static string Model(string body, string features = Features, string head = "") =>
        $"name: test\nembedding_dim: 8\n{head}{(head.Length > 0 && !head.EndsWith('\n') ? "\n" : "")}{features}\n{body}\n";

    public static EmbeddingPlan Plan(string yaml) => EmbeddingPlan.Create(ModelConfig.Parse(yaml));

    /// <summary>Asserts loading and planning fail with a message that starts with the key path and names each fragment.</summary>
    public static ConfigException Fails(string yaml, string keyPath, params string[] fragments)
    {
        var e = Assert.Throws<ConfigException>(() => Plan(yaml));
        Assert.Equal(keyPath, e.KeyPath);
        Assert.StartsWith(keyPath + ":", e.Message);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
        return e;
    }

    /// <summary>The repository's configs/ folder, found by walking up from the test binaries.</summary>
    public static string ConfigsDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "configs");
                if (File.Exists(Path.Combine(candidate, "criteo-ue.yaml"))) return candidate;
            }
            throw new DirectoryNotFoundException("configs/ not found above " + AppContext.BaseDirectory);
        }
    }

    public static string ShippedConfig(string file) => Path.Combine(ConfigsDirectory, file);
}
