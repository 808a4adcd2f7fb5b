namespace RecsysEmbed.CompressionBench;

/// <summary>
/// Quotient-remainder (partitions multiplied by default; <see cref="SuiteOptions.QrCombine"/>, --qr-combine, picks add or
/// concat), with the same policy as the hashing trick so the two compare like for
/// like.
/// <list type="bullet">
/// <item>Cap policy: one remainder-row cap T; a feature with more than T ids gets radices [ceil(n / c), c] with
/// c = ceil(n / T) collisions (a remainder table of at most T rows, the frequent ids each on their own row, and a
/// c-row quotient table), a smaller one keeps its full table. T is the largest that fits.</item>
/// <item>Uniform policy (Shi et al. 2020): every feature gets radices [ceil(n / c), c] (remainder table first, the
/// QR family's order) with one collision factor c for all, the smallest that fits. Tiny features: one with n &lt;= c
/// ids gets [1, n] (c capped at n: the quotient table never has more rows than ids), and one with a single id keeps its
/// one-row full table (<see cref="UniformPolicy.QrCollisions"/>).</item>
/// <item>Threshold policy (the DLRM reference's <c>--qr-threshold</c>): the same for every feature with more than
/// <see cref="SuitePolicies.ThresholdIds"/> ids; the others keep full tables.</item>
/// </list>
/// </summary>
public sealed class QrMethod : ICompressionMethod
{
    public string Name => "qr";
    public string Description => "quotient-remainder compositional embedding, partitions multiplied, remainder rows capped";

    public string DescriptionFor(SuitePolicy policy) => policy switch
    {
        SuitePolicy.Uniform => "quotient-remainder compositional embedding, partitions multiplied, uniform policy: every feature split into radices [ceil(n / c), c] " +
                               "(remainder table first), one collision factor c for all, the smallest that fits",
        SuitePolicy.Threshold => "quotient-remainder compositional embedding, partitions multiplied, threshold policy: features with at most " +
                                 $"{SuitePolicies.ThresholdIds} ids keep full tables, every larger one split into radices [ceil(n / c), c], one collision factor c for all, the smallest that fits",
        _ => Description + " (cap policy: features with at most the cap keep full tables)",
    };

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
        if (model.Options.Policy.IsFactorPolicy()) return SolveFactor(model, budgetBytes);
        static long Collisions(long n, long cap) => (n + cap - 1) / cap;
        string Tables(long cap) => model.PerFeatureTables(f => f.Cardinality <= cap
            ? "family: full"
            : $"family: qr, collisions: {Collisions(f.Cardinality, cap)}, combine: {model.Options.QrCombine.Name()}");
        long rowBytes = model.Dim * sizeof(float);
        long Rows(long cap) => model.Sparse.Sum(f =>
        {
            if (f.Cardinality <= cap) return f.Cardinality;
            long c = Collisions(f.Cardinality, cap);
            return (f.Cardinality + c - 1) / c + c;
        });
        // Per split feature Rows ~ T + n / T, smallest at T = sqrt(n) and increasing above it: search T from
        // sqrt(largest n), where fewer remainder rows would only grow the quotient tables.
        long maxN = model.Sparse.Max(f => f.Cardinality);
        long? cap = SuiteModel.LargestFitting(Math.Max(2, (long)Math.Ceiling(Math.Sqrt(maxN))), maxN, t => Rows(t) * rowBytes <= budgetBytes);
        // Rounding makes Rows(T) only nearly monotone: step down until the planner agrees.
        while (cap is { } t && t > 2 && model.WeightBytes(Tables(t), null)!.Value > budgetBytes) cap = t - Math.Max(1, t / 100);
        if (cap is null || model.WeightBytes(Tables(cap.Value), null)!.Value > budgetBytes)
            return MethodSolution.Unreachable($"even the smallest split (a remainder cap of about sqrt(n) rows) takes more than the budget of {budgetBytes:N0} bytes");
        string tables = Tables(cap.Value);
        long bytes = model.WeightBytes(tables, null)!.Value;
        return new MethodSolution(true, tables, null,
            [SuiteModel.P("remainder_cap", cap.Value), SuiteModel.P("qr_tables", model.Sparse.Count(f => f.Cardinality > cap.Value))], bytes, null);
    }

    private static MethodSolution SolveFactor(SuiteModel model, long budgetBytes)
    {
        long rowBytes = model.Dim * sizeof(float);
        var policy = model.Options.Policy;
        var (_, large, smallRows) = policy.SplitForFactor(model);
        var n = large.Select(f => f.Cardinality).ToArray();
        long keepFull = policy.KeptFullUpTo();
        long? c = n.Length == 0 ? null : UniformPolicy.QrCollisionFactor(n, budgetBytes / rowBytes - smallRows);
        if (c is null)
            return MethodSolution.Unreachable($"even the best collision factor takes {(n.Length == 0 ? 0 : UniformPolicy.QrFewestRows(n)) * rowBytes + smallRows * rowBytes:N0} bytes with the small features full, over the budget of {budgetBytes:N0}");
        string tables = model.PerFeatureTables(f => f.Cardinality > keepFull && UniformPolicy.QrCollisions(f.Cardinality, c.Value) is { } k
            ? $"family: qr, collisions: {k}, combine: {model.Options.QrCombine.Name()}"
            : "family: full");
        long bytes = model.WeightBytes(tables, null)!.Value;
        if (bytes > budgetBytes) // cannot happen while QrRows counts as the planner does
            return MethodSolution.Unreachable($"the planner counts {bytes:N0} bytes for collision factor {c}, over the budget of {budgetBytes:N0}");
        return new MethodSolution(true, tables, null,
        [
            SuiteModel.P("policy", policy.Name()), SuiteModel.P("collisions", c.Value),
            SuiteModel.P("qr_tables", n.Count(x => x > 1)), SuiteModel.P("capped_at_n", n.Count(x => x > 1 && x < c.Value)),
        ], bytes, null);
    }
}
