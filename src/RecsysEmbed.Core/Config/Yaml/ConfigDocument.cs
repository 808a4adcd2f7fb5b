namespace RecsysEmbed.Core.Config.Yaml;

// The YAML as written: every key optional and loosely typed, so validation can name what is wrong.
// Property names map to snake_case keys (UnderscoredNamingConvention); YamlDotNet rejects any other key.
// Values that take words or units (cardinality, budgets, enums) are strings, parsed by ConfigValidator.

internal sealed class ConfigDocument
{
    public string? Name { get; set; }
    public List<string>? DenseFeatures { get; set; }
    public int? EmbeddingDim { get; set; }
    public string? MemoryBudget { get; set; }
    public ulong? HashSeed { get; set; }
    public List<SparseFeatureDocument>? SparseFeatures { get; set; }
    public List<TableDocument>? Tables { get; set; }
    public TableDocument? DefaultTable { get; set; }
    public SparseOptimizerDocument? Optimizer { get; set; }
    public DenseOptimizerDocument? DenseOptimizer { get; set; }
    public DenseModelDocument? Model { get; set; }
    public TrainingDocument? Training { get; set; }
}

internal sealed class DenseModelDocument
{
    public string? Kind { get; set; }
    public List<int>? BottomMlp { get; set; }
    public List<int>? TopMlp { get; set; }
    public int? CrossLayers { get; set; }
    public List<int>? DeepMlp { get; set; }
    public string? Precision { get; set; }
}

internal sealed class TrainingDocument
{
    public int? BatchSize { get; set; }
    public int? Epochs { get; set; }
    public ulong? Seed { get; set; }
}

internal sealed class SparseFeatureDocument
{
    public string? Name { get; set; }
    public string? Cardinality { get; set; }
    public long? CardinalityEstimate { get; set; }
    public string? Pooling { get; set; }
    public bool? Weighted { get; set; }
}

internal sealed class TableDocument
{
    public string? Name { get; set; }
    public string? Family { get; set; }
    public List<FeatureRefDocument>? Features { get; set; }
    public int? Dim { get; set; }
    // hash, ue
    public long? Buckets { get; set; }
    public string? Budget { get; set; }
    public double? BudgetShare { get; set; }
    // hash
    public int? Hashes { get; set; }
    // hash, qr
    public string? Combine { get; set; }
    // qr
    public long? Collisions { get; set; }
    public int? Partitions { get; set; }
    public List<long>? Radices { get; set; }
    // md
    public double? Alpha { get; set; }
    public int? MinDim { get; set; }
    public long? HotRows { get; set; }
    public int? HotDim { get; set; }
    public int? TailDim { get; set; }
    public long? TailBuckets { get; set; }
    // ue
    public int? Chunks { get; set; }
    // lp
    public string? Precision { get; set; }
    // tt
    public int? Rank { get; set; }
    // robe
    public long? Size { get; set; }
    public int? Block { get; set; }
}

/// <summary>A table's feature: a bare name, or a mapping {name, chunks} (chunks: ue only).</summary>
internal class FeatureRefDocument
{
    public string? Name { get; set; }
    public int? Chunks { get; set; }
}

/// <summary>The mapping form of <see cref="FeatureRefDocument"/>; a distinct type so the converter does not recurse.</summary>
internal sealed class FeatureRefMappingDocument : FeatureRefDocument;

internal sealed class SparseOptimizerDocument
{
    public string? Kind { get; set; }
    public double? LearningRate { get; set; }
    public double? Eps { get; set; }
    public double? Beta1 { get; set; }
    public double? Beta2 { get; set; }
    public double? InitialAccumulator { get; set; }
}

internal sealed class DenseOptimizerDocument
{
    public string? Kind { get; set; }
    public double? LearningRate { get; set; }
    public double? Eps { get; set; }
    public double? Beta1 { get; set; }
    public double? Beta2 { get; set; }
    public double? WeightDecay { get; set; }
}
