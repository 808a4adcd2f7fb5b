namespace RecsysEmbed.CompressionBench;

/// <summary>
/// The hashing trick (k = 1) and multi-hash (k = 2, rows summed).
/// <list type="bullet">
/// <item>Cap policy: solves one bucket cap T: a feature with more than T ids gets a hashed table of T buckets, a
/// smaller one keeps its full table; T is the largest that fits.</item>
/// <item>Uniform policy (Shi et al. 2020; Coleman et al. 2023): every feature is hashed into ceil(n / c) buckets (at
/// least 1), one compression factor c for all, the smallest that fits (<see cref="UniformPolicy.HashBuckets"/>).</item>
/// <item>Threshold policy: the same for every feature with more than <see cref="SuitePolicies.ThresholdIds"/> ids; the others keep full tables.</item>
/// </list>
/// </summary>
public sealed class HashMethod(int hashes) : ICompressionMethod
{
    public string Name => hashes == 1 ? "hash" : "multihash";
    public string Description => hashes == 1 ? "hashing trick: ids hashed into a capped number of buckets" : $"multi-hash: {hashes} hashes into capped buckets, rows summed";

    public string DescriptionFor(SuitePolicy policy) => policy switch
    {
        SuitePolicy.Uniform => Family + ", uniform policy: every feature hashed into ceil(n / c) buckets, one compression factor c for all, the smallest that fits",
        SuitePolicy.Threshold => Family + $", threshold policy: features with at most {SuitePolicies.ThresholdIds} ids keep full tables, every larger one hashed into ceil(n / c) buckets, one compression factor c for all, the smallest that fits",
        _ => Description + " (cap policy: features with at most the cap keep full tables)",
    };

    private string Family => hashes == 1 ? "hashing trick" : $"multi-hash ({hashes} hashes, rows summed)";

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
        if (model.Options.Policy.IsFactorPolicy()) return SolveFactor(model, budgetBytes);
        string Tables(long cap) => model.PerFeatureTables(f => f.Cardinality <= cap ? "family: full" : $"family: hash, buckets: {cap}, hashes: {hashes}");
        long rowBytes = model.Dim * sizeof(float);
        // Planned bytes are sum_f min(n_f, T) rows: monotone in T, so search T directly on that sum.
        long? cap = SuiteModel.LargestFitting(1, model.Sparse.Max(f => f.Cardinality),
            t => model.Sparse.Sum(f => Math.Min(f.Cardinality, t)) * rowBytes <= budgetBytes);
        if (cap is null) return MethodSolution.Unreachable($"one bucket per feature already takes {model.Sparse.Count * rowBytes:N0} bytes");
        string tables = Tables(cap.Value);
        long bytes = model.WeightBytes(tables, null)!.Value;
        int hashed = model.Sparse.Count(f => f.Cardinality > cap.Value);
        return new MethodSolution(true, tables, null, [SuiteModel.P("bucket_cap", cap.Value), SuiteModel.P("hashes", hashes), SuiteModel.P("hashed_tables", hashed)], bytes, null);
    }

    private MethodSolution SolveFactor(SuiteModel model, long budgetBytes)
    {
        long rowBytes = model.Dim * sizeof(float);
        var policy = model.Options.Policy;
        var (_, large, smallRows) = policy.SplitForFactor(model);
        var solved = UniformPolicy.HashBuckets(large.Select(f => f.Cardinality).ToArray(), budgetBytes / rowBytes - smallRows);
        if (solved is null)
            return MethodSolution.Unreachable($"the {model.Sparse.Count - large.Count} full tables and one bucket per compressed feature already take {(smallRows + large.Count) * rowBytes:N0} bytes");
        var buckets = large.Select((f, i) => (f.Name, Buckets: solved.Buckets[i])).ToDictionary(x => x.Name, x => x.Buckets);
        string tables = model.PerFeatureTables(f => buckets.TryGetValue(f.Name, out long b) ? $"family: hash, buckets: {b}, hashes: {hashes}" : "family: full");
        long bytes = model.WeightBytes(tables, null)!.Value;
        return new MethodSolution(true, tables, null,
        [
            SuiteModel.P("policy", policy.Name()), SuiteModel.P("compression", UniformPolicy.Format(solved.Compression)),
            SuiteModel.P("buckets", solved.Buckets.Sum()), SuiteModel.P("hashes", hashes), SuiteModel.P("hashed_tables", large.Count),
        ], bytes, null);
    }
}
