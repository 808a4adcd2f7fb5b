using System.Globalization;
using System.Text;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;

namespace RecsysEmbed.CompressionBench;

/// <summary>
/// What every cell shares: the features with their cardinalities, the embedding width and the dense model. Turns a
/// method's table section into a complete model config (YAML, validated by the normal config reader) and plans it,
/// so methods size themselves with the same planner that builds the tables.
/// </summary>
public sealed class SuiteModel(SuiteOptions options, IReadOnlyList<string> denseFeatures, IReadOnlyList<SuiteFeature> sparse)
{
    public SuiteOptions Options { get; } = options;
    public IReadOnlyList<string> DenseFeatures { get; } = denseFeatures;
    public IReadOnlyList<SuiteFeature> Sparse { get; } = sparse;
    public int Dim => Options.EmbeddingDim;

    /// <summary>Weight bytes of full fp32 tables for every feature: what a budget of 1 means.</summary>
    public long FullWeightBytes => Sparse.Sum(f => f.Cardinality) * Dim * sizeof(float);

    // Tuned on the synthetic Criteo-schema data (benchmarks/RESULTS.md, issue 3 quality): lr 0.1 beats 0.05 and 0.02,
    // and a starting accumulator of 1e-7 keeps the first steps of rare rows proportional to their gradient instead of
    // sign-like, which otherwise over-fits them (+0.011 AUC).
    public const string SparseOptimizer = "{kind: rowwise_adagrad, learning_rate: 0.1, eps: 1.0e-8, initial_accumulator: 1.0e-7}";
    public const string DenseOptimizer = "{kind: adam, learning_rate: 0.001}";

    /// <summary>The complete config of a cell.</summary>
    public string ConfigYaml(string name, string tablesYaml, long? memoryBudget, ulong seed)
    {
        var o = Options;
        var y = new StringBuilder();
        y.Append("name: ").Append(name).Append('\n');
        y.Append("dense_features: [").Append(string.Join(", ", DenseFeatures)).Append("]\n");
        y.Append("embedding_dim: ").Append(Dim).Append('\n');
        y.Append("hash_seed: ").Append(seed).Append('\n');
        if (memoryBudget is { } mb) y.Append("memory_budget: ").Append(mb.ToString(CultureInfo.InvariantCulture)).Append('\n');
        y.Append("sparse_features:\n");
        foreach (var f in Sparse) y.Append("  - {name: ").Append(f.Name).Append(", cardinality: ").Append(f.Cardinality).Append("}\n");
        y.Append(tablesYaml);
        if (!tablesYaml.EndsWith('\n')) y.Append('\n');
        y.Append("optimizer: ").Append(SparseOptimizer).Append('\n');
        y.Append("dense_optimizer: ").Append(DenseOptimizer).Append('\n');
        y.Append(o.Model == "dcnv2"
            ? $"model: {{kind: dcnv2, cross_layers: 3, deep_mlp: [{string.Join(", ", o.TopMlp)}]}}\n"
            : $"model: {{kind: dlrm, bottom_mlp: [{string.Join(", ", o.BottomMlp)}], top_mlp: [{string.Join(", ", o.TopMlp)}]}}\n");
        y.Append("training: {batch_size: ").Append(o.BatchSize).Append(", epochs: ").Append(o.Epochs).Append(", seed: ").Append(seed).Append("}\n");
        return y.ToString();
    }

    public EmbeddingPlan Plan(string tablesYaml, long? memoryBudget) =>
        EmbeddingPlan.Create(ModelConfig.Parse(ConfigYaml("plan", tablesYaml, memoryBudget, 1)));

    /// <summary>Planned weight bytes of a table section, or null when the planner refuses it (e.g. over the budget).</summary>
    public long? WeightBytes(string tablesYaml, long? memoryBudget)
    {
        try
        {
            return Plan(tablesYaml, memoryBudget).Total.WeightBytes;
        }
        catch (ConfigException)
        {
            return null;
        }
    }

    /// <summary>One table per feature: <paramref name="table"/> gives a feature's flow mapping body (after name and features).</summary>
    public string PerFeatureTables(Func<SuiteFeature, string> table)
    {
        var y = new StringBuilder("tables:\n");
        foreach (var f in Sparse) y.Append("  - {name: t_").Append(f.Name).Append(", features: [").Append(f.Name).Append("], ").Append(table(f)).Append("}\n");
        return y.ToString();
    }

    /// <summary>Largest integer x in [lo, hi] with fits(x), assuming fits is monotone (true then false); null when none.</summary>
    public static long? LargestFitting(long lo, long hi, Func<long, bool> fits)
    {
        if (!fits(lo)) return null;
        while (lo < hi)
        {
            long mid = lo + (hi - lo + 1) / 2;
            if (fits(mid)) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    public static KeyValuePair<string, string> P(string key, object value) =>
        new(key, Convert.ToString(value, CultureInfo.InvariantCulture) ?? "");
}
