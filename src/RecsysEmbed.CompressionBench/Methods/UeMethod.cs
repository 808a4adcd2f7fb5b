using System.Text;

namespace RecsysEmbed.CompressionBench;

/// <summary>
/// Unified embedding (feature multiplexing), with the hashing trick's policy for what to compress: the bucket cap T
/// that hashing would use; features with at most T ids keep full tables, and all larger features share one
/// multiplexed table of sum-over-them-of-T buckets (the same bytes as hashing, but pooled: a feature with a heavy head
/// can use buckets another leaves idle). When every feature is larger than T this is the plain unified table.
/// Uniform policy (Coleman et al. 2023): every feature is multiplexed into one shared table whose rows fill the budget
/// (floor(budget / row bytes) buckets); no feature keeps a full table. Threshold policy: features with at most
/// <see cref="SuitePolicies.ThresholdIds"/> ids keep full tables and every larger one is multiplexed into one shared
/// table that fills the rest of the budget.
/// With <c>probes</c> k > 1 ("ue2": Coleman et al.'s multi-probe variant) each multiplexed feature looks the shared
/// table up k times with independent hashes and concatenates k rows of dim / k, so the same bytes hold k times the
/// rows and two ids share a whole vector only when all k probes collide.
/// </summary>
public sealed class UeMethod(int probes = 1) : ICompressionMethod
{
    public string Name => probes == 1 ? "ue" : $"ue{probes}";
    public string Description => probes == 1
        ? "unified embedding: the large features share one multiplexed table"
        : $"unified embedding, {probes} probes: the large features share one multiplexed table of dim / {probes} rows, {probes} hashed rows concatenated per id";

    public string DescriptionFor(SuitePolicy policy) => policy switch
    {
        SuitePolicy.Uniform => Family + ", uniform policy: every feature multiplexed into one shared table whose rows fill the budget",
        SuitePolicy.Threshold => Family + $", threshold policy: features with at most {SuitePolicies.ThresholdIds} ids keep full tables, every larger one multiplexed into one shared table whose rows fill the rest of the budget",
        _ => Description + " (cap policy: features with at most the hashing cap keep full tables)",
    };

    private string Family => probes == 1 ? "unified embedding" : $"unified embedding ({probes} probes of dim / {probes}, concatenated)";

    /// <summary>The shared table's YAML: k probes of dim / k rows means k times the buckets for the same bytes.</summary>
    private string SharedTable(SuiteModel model, long buckets, IEnumerable<SuiteFeature> features)
    {
        string shape = probes == 1 ? "" : $"dim: {model.Dim / probes}, chunks: {probes}, ";
        return $"  - {{name: t_unified, family: ue, {shape}buckets: {buckets * probes}, features: [{string.Join(", ", features.Select(f => f.Name))}]}}\n";
    }

    // Only multi-probe runs name their probes, so single-probe outputs read as they always did.
    private KeyValuePair<string, string>[] ProbesParameter => probes == 1 ? [] : [SuiteModel.P("probes", probes)];

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
        if (model.Dim % probes != 0)
            return MethodSolution.Unreachable($"{probes} probes need a dim divisible by {probes}; it is {model.Dim}");
        if (model.Options.Policy.IsFactorPolicy()) return SolveFactor(model, budgetBytes);
        long rowBytes = model.Dim * sizeof(float);
        long? cap = SuiteModel.LargestFitting(1, model.Sparse.Max(f => f.Cardinality),
            t => model.Sparse.Sum(f => Math.Min(f.Cardinality, t)) * rowBytes <= budgetBytes);
        if (cap is null) return MethodSolution.Unreachable($"one bucket per feature already takes {model.Sparse.Count * rowBytes:N0} bytes");
        var shared = model.Sparse.Where(f => f.Cardinality > cap.Value).ToList();
        long buckets = shared.Count * cap.Value;
        var y = new StringBuilder("tables:\n");
        foreach (var f in model.Sparse.Where(f => f.Cardinality <= cap.Value))
            y.Append("  - {name: t_").Append(f.Name).Append(", features: [").Append(f.Name).Append("], family: full}\n");
        if (shared.Count > 0) y.Append(SharedTable(model, buckets, shared));
        string tables = y.ToString();
        long bytes = model.WeightBytes(tables, null)!.Value;
        return new MethodSolution(true, tables, null,
            [SuiteModel.P("buckets", buckets * probes), .. ProbesParameter, SuiteModel.P("multiplexed_features", shared.Count), SuiteModel.P("bucket_cap", cap.Value)], bytes, null);
    }

    private MethodSolution SolveFactor(SuiteModel model, long budgetBytes)
    {
        long rowBytes = model.Dim * sizeof(float);
        var policy = model.Options.Policy;
        var (small, shared, smallRows) = policy.SplitForFactor(model);
        long buckets = budgetBytes / rowBytes - smallRows;
        if (buckets < 1 || shared.Count == 0)
            return MethodSolution.Unreachable($"the budget of {budgetBytes:N0} bytes leaves no row of {rowBytes} bytes for a shared table after {small.Count} full tables");
        var y = new StringBuilder("tables:\n");
        foreach (var f in small) y.Append("  - {name: t_").Append(f.Name).Append(", features: [").Append(f.Name).Append("], family: full}\n");
        y.Append(SharedTable(model, buckets, shared));
        string tables = y.ToString();
        long bytes = model.WeightBytes(tables, null)!.Value;
        long ids = shared.Sum(f => f.Cardinality);
        return new MethodSolution(true, tables, null,
        [
            SuiteModel.P("policy", policy.Name()), SuiteModel.P("buckets", buckets * probes), .. ProbesParameter, SuiteModel.P("multiplexed_features", shared.Count),
            SuiteModel.P("compression", UniformPolicy.Format((double)ids / buckets)),
        ], bytes, null);
    }
}
