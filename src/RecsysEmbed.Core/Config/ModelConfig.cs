using RecsysEmbed.Core.Config.Yaml;
using RecsysEmbed.Core.Optimizers;

namespace RecsysEmbed.Core.Config;

/// <summary>
/// A model's inputs and embedding tables, as validated plain data. Make one with <see cref="Load"/> or
/// <see cref="Parse"/>, which check every key once and throw <see cref="ConfigException"/> naming the key path;
/// the schema is documented in configs/README.md. <c>default_table</c> is already expanded into
/// <see cref="Tables"/>, so every sparse feature is served by exactly one table.
/// </summary>
public sealed record ModelConfig
{
    public required string Name { get; init; }
    public IReadOnlyList<string> DenseFeatures { get; init; } = [];
    public required IReadOnlyList<SparseFeatureConfig> SparseFeatures { get; init; }
    /// <summary>Base width of an embedding: the default table dim and the output width of md tables.</summary>
    public required int EmbeddingDim { get; init; }
    /// <summary>Cap on the embedding weights of the whole model, in bytes (optimizer state not counted); null: none.</summary>
    public long? MemoryBudgetBytes { get; init; }
    /// <summary>Root of every table's hash and init seed (each table derives its own from this and its name).</summary>
    public ulong HashSeed { get; init; } = 1;
    public required IReadOnlyList<TableConfig> Tables { get; init; }
    /// <summary>The fused sparse optimizer every table's rows use.</summary>
    public SparseOptimizerSettings Optimizer { get; init; } = new();
    public DenseOptimizerConfig DenseOptimizer { get; init; } = new();
    /// <summary>The dense model (DLRM or DCN-v2) around the embeddings.</summary>
    public DenseModelConfig Model { get; init; } = new();
    public TrainingConfig Training { get; init; } = new();

    public SparseFeatureConfig Feature(string name) =>
        SparseFeatures.FirstOrDefault(f => f.Name == name) ?? throw new KeyNotFoundException($"config '{Name}' has no sparse feature '{name}'.");

    /// <summary>Reads and validates a YAML config file.</summary>
    public static ModelConfig Load(string path) => Parse(File.ReadAllText(path));

    /// <summary>Validates a YAML config given as text.</summary>
    public static ModelConfig Parse(string yaml) => ConfigReader.Parse(yaml) with { SourceYaml = yaml };

    /// <summary>The YAML this config was parsed from (null when built in code); kept so checkpoints can carry it.</summary>
    public string? SourceYaml { get; init; }
}
