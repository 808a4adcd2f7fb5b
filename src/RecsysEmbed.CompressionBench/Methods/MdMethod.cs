namespace RecsysEmbed.CompressionBench;

/// <summary>
/// Mixed dimension. First the power law: width d_f = lambda n_f^-alpha, the rarest feature at embedding_dim; solves
/// the temperature alpha (smallest on a 0.05 grid that fits) for the widest min_dim among 4, 2, 1 that can fit.
/// Below what 1-wide rows for every id take, falls back to the frequency-block variant with a hashed tail, under one
/// cap T like the hashing trick's: a feature with at most T ids keeps its full table; a larger one gets the bytes of
/// T full rows, a <see cref="HotShare"/> of them as an exact full-width hot block (its most frequent ids) and the
/// rest as tail buckets of width <see cref="TailDim"/> (plus the tail's projection). T is the largest that fits.
/// </summary>
public sealed class MdMethod : ICompressionMethod
{
    /// <summary>Share of a capped feature's T rows kept exact at full width for its head.</summary>
    public const double HotShare = 0.5;
    /// <summary>Width of the hashed tail's rows (at most embedding_dim).</summary>
    public const int TailDim = 4;

    public string Name => "md";
    public string Description => "mixed dimension: power-law widths with projections, or a full-width head and a hashed narrow tail";

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
        long smallest = long.MaxValue;
        foreach (int minDim in new[] { 4, 2, 1 }.Where(d => d <= model.Dim).Distinct())
        {
            for (int step = 0; step <= 60; step++)
            {
                double alpha = step * 0.05;
                string tables = $"default_table: {{family: md, alpha: {alpha:0.00}, min_dim: {minDim}}}\n";
                var plan = model.Plan(tables, null);
                long bytes = plan.Total.WeightBytes;
                smallest = Math.Min(smallest, bytes);
                if (bytes > budgetBytes) continue;
                var widths = plan.Tables.Select(t => ((RecsysEmbed.Core.Config.Planning.MdTablePlan)t).Blocks[0].Dim).ToArray();
                return new MethodSolution(true, tables, null,
                    [SuiteModel.P("variant", "power_law"),
                     SuiteModel.P("alpha", alpha.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)), SuiteModel.P("min_dim", minDim),
                     SuiteModel.P("base_dim", model.Dim), SuiteModel.P("widths", $"{widths.Min()}..{widths.Max()}")], bytes, null);
            }
        }
        return HashedTail(model, budgetBytes)
            ?? MethodSolution.Unreachable($"the narrowest power-law widths (min_dim 1, alpha 3) still take {smallest:N0} bytes, and even a hashed tail " +
                                          $"needs {LeastHashedTailBytes(model):N0} bytes (a hot row, the tail projection and a bucket per large feature), " +
                                          $"over the budget of {budgetBytes:N0}");
    }

    /// <summary>Hot rows and tail buckets of a capped feature: HotShare of T full rows, the rest of T rows' floats as tail.</summary>
    public static (long HotRows, long TailBuckets) Split(long cap, int dim)
    {
        int tailDim = Math.Min(TailDim, dim);
        long hot = Math.Max(1, (long)(cap * HotShare));
        long tailFloats = cap * dim - hot * dim - (tailDim == dim ? 0 : (long)tailDim * dim);
        return (hot, tailFloats / tailDim);
    }

    private static MethodSolution? HashedTail(SuiteModel model, long budgetBytes)
    {
        int dim = model.Dim, tailDim = Math.Min(TailDim, dim);
        long minCap = MinCap(dim);
        string Body(SuiteFeature f, long cap)
        {
            if (f.Cardinality <= cap) return "family: full";
            var (hot, buckets) = Split(cap, dim);
            // A feature just over the cap would get more buckets than tail ids: one per tail id is enough.
            buckets = Math.Min(buckets, f.Cardinality - hot);
            return $"family: md, hot_rows: {hot}, hot_dim: {dim}, tail_dim: {tailDim}, tail_buckets: {buckets}";
        }
        // A capped feature takes at most T full rows, so sum_f min(n_f, T) rows bounds the bytes: monotone in T.
        long rowBytes = dim * sizeof(float);
        long? cap = SuiteModel.LargestFitting(minCap, Math.Max(minCap, model.Sparse.Max(f => f.Cardinality)),
            t => model.Sparse.Sum(f => Math.Min(f.Cardinality, t)) * rowBytes <= budgetBytes);
        if (cap is null) return null;
        string tables = model.PerFeatureTables(f => Body(f, cap.Value));
        long bytes = model.WeightBytes(tables, null)!.Value;
        var (hotRows, tailBuckets) = Split(cap.Value, dim);
        int capped = model.Sparse.Count(f => f.Cardinality > cap.Value);
        return new MethodSolution(true, tables, null,
            [SuiteModel.P("variant", "hot_hashed_tail"), SuiteModel.P("bucket_cap", cap.Value), SuiteModel.P("hot_rows", hotRows),
             SuiteModel.P("hot_dim", dim), SuiteModel.P("tail_dim", tailDim), SuiteModel.P("tail_buckets", tailBuckets),
             SuiteModel.P("md_tables", capped)], bytes, null);
    }

    /// <summary>Smallest cap whose split leaves at least one tail bucket.</summary>
    private static long MinCap(int dim)
    {
        long cap = 2;
        while (Split(cap, dim).TailBuckets < 1) cap++;
        return cap;
    }

    // The hashed-tail variant at its smallest cap, for the reason of an unreachable budget.
    private static long LeastHashedTailBytes(SuiteModel model)
    {
        long cap = MinCap(model.Dim);
        return model.Sparse.Sum(f => Math.Min(f.Cardinality, cap)) * model.Dim * sizeof(float);
    }
}
