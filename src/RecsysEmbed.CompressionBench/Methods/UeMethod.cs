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
/// </summary>
public sealed class UeMethod : ICompressionMethod
{
    public string Name => "ue";
    public string Description => "unified embedding: the large features share one multiplexed table";

    public string DescriptionFor(SuitePolicy policy) => policy switch
    {
        SuitePolicy.Uniform => "unified embedding, uniform policy: every feature multiplexed into one shared table whose rows fill the budget",
        SuitePolicy.Threshold => $"unified embedding, threshold policy: features with at most {SuitePolicies.ThresholdIds} ids keep full tables, every larger one multiplexed into one shared table whose rows fill the rest of the budget",
        _ => Description + " (cap policy: features with at most the hashing cap keep full tables)",
    };

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
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
        if (shared.Count > 0)
            y.Append("  - {name: t_unified, family: ue, buckets: ").Append(buckets).Append(", features: [")
             .Append(string.Join(", ", shared.Select(f => f.Name))).Append("]}\n");
        string tables = y.ToString();
        long bytes = model.WeightBytes(tables, null)!.Value;
        return new MethodSolution(true, tables, null,
            [SuiteModel.P("buckets", buckets), SuiteModel.P("multiplexed_features", shared.Count), SuiteModel.P("bucket_cap", cap.Value)], bytes, null);
    }

    private static MethodSolution SolveFactor(SuiteModel model, long budgetBytes)
    {
        long rowBytes = model.Dim * sizeof(float);
        var policy = model.Options.Policy;
        var (small, shared, smallRows) = policy.SplitForFactor(model);
        long buckets = budgetBytes / rowBytes - smallRows;
        if (buckets < 1 || shared.Count == 0)
            return MethodSolution.Unreachable($"the budget of {budgetBytes:N0} bytes leaves no row of {rowBytes} bytes for a shared table after {small.Count} full tables");
        var y = new StringBuilder("tables:\n");
        foreach (var f in small) y.Append("  - {name: t_").Append(f.Name).Append(", features: [").Append(f.Name).Append("], family: full}\n");
        y.Append("  - {name: t_unified, family: ue, buckets: ").Append(buckets).Append(", features: [").Append(string.Join(", ", shared.Select(f => f.Name))).Append("]}\n");
        string tables = y.ToString();
        long bytes = model.WeightBytes(tables, null)!.Value;
        long ids = shared.Sum(f => f.Cardinality);
        return new MethodSolution(true, tables, null,
        [
            SuiteModel.P("policy", policy.Name()), SuiteModel.P("buckets", buckets), SuiteModel.P("multiplexed_features", shared.Count),
            SuiteModel.P("compression", UniformPolicy.Format((double)ids / buckets)),
        ], bytes, null);
    }
}
