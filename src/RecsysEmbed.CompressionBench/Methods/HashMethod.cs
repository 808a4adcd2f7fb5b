namespace RecsysEmbed.CompressionBench;

/// <summary>
/// The hashing trick (k = 1) and multi-hash (k = 2, rows summed). Solves one bucket cap T: a feature with more than
/// T ids gets a hashed table of T buckets, a smaller one keeps its full table; T is the largest that fits.
/// </summary>
public sealed class HashMethod(int hashes) : ICompressionMethod
{
    public string Name => hashes == 1 ? "hash" : "multihash";
    public string Description => hashes == 1 ? "hashing trick: ids hashed into a capped number of buckets" : $"multi-hash: {hashes} hashes into capped buckets, rows summed";

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
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
}
