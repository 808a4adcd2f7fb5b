namespace RecsysEmbed.CompressionBench;

/// <summary>
/// The hashing trick (k = 1) and multi-hash (k = 2, rows summed).
/// <list type="bullet">
/// <item>Cap policy: solves one bucket cap T: a feature with more than T ids gets a hashed table of T buckets, a
/// smaller one keeps its full table; T is the largest that fits.</item>
/// <item>Uniform policy (Shi et al. 2020; Coleman et al. 2023): every feature is hashed into ceil(n / c) buckets (at
/// least 1), one compression factor c for all, the smallest that fits (<see cref="UniformPolicy.HashBuckets"/>).</item>
/// </list>
/// </summary>
public sealed class HashMethod(int hashes) : ICompressionMethod
{
    public string Name => hashes == 1 ? "hash" : "multihash";
    public string Description => hashes == 1 ? "hashing trick: ids hashed into a capped number of buckets" : $"multi-hash: {hashes} hashes into capped buckets, rows summed";

    public string DescriptionFor(SuitePolicy policy) => policy == SuitePolicy.Uniform
        ? (hashes == 1 ? "hashing trick" : $"multi-hash ({hashes} hashes, rows summed)") +
          ", uniform policy: every feature hashed into ceil(n / c) buckets, one compression factor c for all, the smallest that fits"
        : Description + " (cap policy: features with at most the cap keep full tables)";

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
        if (model.Options.Policy == SuitePolicy.Uniform) return SolveUniform(model, budgetBytes);
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

    private MethodSolution SolveUniform(SuiteModel model, long budgetBytes)
    {
        long rowBytes = model.Dim * sizeof(float);
        var solved = UniformPolicy.HashBuckets(model.Sparse.Select(f => f.Cardinality).ToArray(), budgetBytes / rowBytes);
        if (solved is null) return MethodSolution.Unreachable($"one bucket per feature already takes {model.Sparse.Count * rowBytes:N0} bytes");
        var buckets = model.Sparse.Select((f, i) => (f.Name, Buckets: solved.Buckets[i])).ToDictionary(x => x.Name, x => x.Buckets);
        string tables = model.PerFeatureTables(f => $"family: hash, buckets: {buckets[f.Name]}, hashes: {hashes}");
        long bytes = model.WeightBytes(tables, null)!.Value;
        return new MethodSolution(true, tables, null,
        [
            SuiteModel.P("policy", "uniform"), SuiteModel.P("compression", UniformPolicy.Format(solved.Compression)),
            SuiteModel.P("buckets", solved.Buckets.Sum()), SuiteModel.P("hashes", hashes), SuiteModel.P("hashed_tables", model.Sparse.Count),
        ], bytes, null);
    }
}
