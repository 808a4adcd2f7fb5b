namespace RecsysEmbed.CompressionBench;

/// <summary>
/// Quotient-remainder (multiplicative combine). Solves the collisions c: a feature with more than 2c ids gets radices
/// [c, ceil(n / c)], a smaller one a full table; c is the smallest on a 1.25x grid that fits (fewest collisions).
/// </summary>
public sealed class QrMethod : ICompressionMethod
{
    public string Name => "qr";
    public string Description => "quotient-remainder compositional embedding, partitions multiplied";

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
        string Tables(long c) => model.PerFeatureTables(f => f.Cardinality <= 2 * c ? "family: full" : $"family: qr, collisions: {c}, combine: mult");
        long maxN = model.Sparse.Max(f => f.Cardinality);
        long best = long.MaxValue;
        for (double c = 2; c <= Math.Max(2, maxN); c = Math.Max(c + 1, c * 1.25))
        {
            long collisions = (long)c;
            string tables = Tables(collisions);
            long bytes = model.WeightBytes(tables, null)!.Value;
            best = Math.Min(best, bytes);
            if (bytes <= budgetBytes)
                return new MethodSolution(true, tables, null,
                    [SuiteModel.P("collisions", collisions), SuiteModel.P("qr_tables", model.Sparse.Count(f => f.Cardinality > 2 * collisions))], bytes, null);
        }
        return MethodSolution.Unreachable($"the smallest QR split found takes {best:N0} bytes, over the budget of {budgetBytes:N0}");
    }
}
