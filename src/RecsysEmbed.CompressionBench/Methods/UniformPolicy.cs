namespace RecsysEmbed.CompressionBench;

/// <summary>
/// The budget solvers of <see cref="SuitePolicy.Uniform"/>: one compression factor c for every feature, the smallest
/// (finest) whose tables fit. Row counts only (a row is Dim fp32 weights for hash, qr and ue alike).
/// </summary>
public static class UniformPolicy
{
    /// <summary>
    /// Hashing trick with one compression factor: feature f gets b_f = ceil(n_f / c) buckets (at least 1), c >= 1 the
    /// smallest real factor with sum b_f &lt;= <paramref name="maxBuckets"/>. The bucket counts only change where
    /// c = n_f / k, so c is found exactly as the ratio n_g / b_g of the feature g with the most ids per bucket: every
    /// b_f equals ceil(n_f * b_g / n_g), and any finer c (one bucket more for g and the features tied with it) does
    /// not fit. Null when one bucket per feature does not fit.
    /// </summary>
    public static HashSolution? HashBuckets(IReadOnlyList<long> cardinalities, long maxBuckets)
    {
        var n = cardinalities.ToArray();
        if (n.Length == 0 || n.Length > maxBuckets) return null;
        if (n.Sum() <= maxBuckets) return new HashSolution(n, 1, 1); // c = 1: a bucket per id
        // Bisection on a double c finds the plateau; the rest is exact integer arithmetic.
        double lo = 1, hi = n.Max(); // total(lo) > maxBuckets, total(hi) = n.Length <= maxBuckets
        long[] Buckets(double c) => n.Select(x => Math.Max(1, (long)Math.Ceiling(x / c))).ToArray();
        for (int i = 0; i < 200; i++)
        {
            double mid = lo + (hi - lo) / 2;
            if (mid <= lo || mid >= hi) break;
            if (Buckets(mid).Sum() <= maxBuckets) hi = mid;
            else lo = mid;
        }
        var b = Canonical(n, Buckets(hi)); // never more buckets than Buckets(hi), so it fits
        while (true)
        {
            var finer = Finer(n, b);
            if (finer is null || finer.Sum() > maxBuckets) break;
            b = finer;
        }
        int g = MostIdsPerBucket(n, b);
        return new HashSolution(b, n[g], b[g]);
    }

    /// <summary>The buckets of a uniform hash solution and its compression factor c = Ids / PerBuckets (exact).</summary>
    public sealed record HashSolution(long[] Buckets, long Ids, long PerBuckets)
    {
        public double Compression => (double)Ids / PerBuckets;
    }

    // The feature with the largest n_f / b_f (first of ties), compared exactly.
    private static int MostIdsPerBucket(long[] n, long[] b)
    {
        int g = 0;
        for (int f = 1; f < n.Length; f++)
            if ((Int128)n[f] * b[g] > (Int128)n[g] * b[f]) g = f;
        return g;
    }

    // ceil(n_f / c) for c = the largest n_f / b_f: never more than b_f.
    private static long[] Canonical(long[] n, long[] b)
    {
        int g = MostIdsPerBucket(n, b);
        return n.Select(x => (long)(((Int128)x * b[g] + n[g] - 1) / n[g])).ToArray();
    }

    // The buckets of the next finer factor: one more for the features with the most ids per bucket; null at c = 1.
    private static long[]? Finer(long[] n, long[] b)
    {
        int g = MostIdsPerBucket(n, b);
        if (n[g] <= b[g]) return null;
        return n.Select((x, f) => (Int128)x * b[g] == (Int128)n[g] * b[f] ? b[f] + 1 : b[f]).ToArray();
    }

    /// <summary>
    /// The collisions of a feature's quotient-remainder table under factor c: c, but never more than the feature's ids
    /// (a feature with n &lt;= c ids gets radices [1, n]: one shared remainder row times a row per id). Null for a
    /// feature of a single id, which keeps its one-row full table (nothing smaller exists).
    /// </summary>
    public static long? QrCollisions(long cardinality, long c) => cardinality <= 1 ? null : Math.Min(c, cardinality);

    /// <summary>Rows of a feature's table under factor c: ceil(n / c_f) + c_f (remainder first, then quotient), or n for a single id.</summary>
    public static long QrRows(long cardinality, long c) =>
        QrCollisions(cardinality, c) is { } k ? (cardinality + k - 1) / k + k : cardinality;

    /// <summary>
    /// The smallest collision factor c >= 2 whose quotient-remainder tables (radices [ceil(n_f / c), c] for every
    /// feature, see <see cref="QrCollisions"/>) take at most <paramref name="maxRows"/> rows; null when none does.
    /// Rows fall with c up to about sqrt(n) and then grow again, so the search finds the smallest total on a fine
    /// geometric grid first, then the smallest c below it that fits, then steps down while a finer c still fits.
    /// </summary>
    public static long? QrCollisionFactor(IReadOnlyList<long> cardinalities, long maxRows)
    {
        if (cardinalities.Count == 0) return null;
        long Rows(long c) => cardinalities.Sum(n => QrRows(n, c));
        bool Fits(long c) => Rows(c) <= maxRows;
        long top = Math.Max(2, cardinalities.Max());
        long best = 2, bestRows = Rows(2);
        for (long c = 3; c <= top; c = Math.Max(c + 1, (long)(c * 1.01)))
        {
            long rows = Rows(c);
            if (rows < bestRows) (best, bestRows) = (c, rows);
        }
        if (bestRows > maxRows) return null;
        long lo = 2, hi = best; // Fits(hi)
        while (lo < hi)
        {
            long mid = lo + (hi - lo) / 2;
            if (Fits(mid)) hi = mid;
            else lo = mid + 1;
        }
        while (lo > 2 && Fits(lo - 1)) lo--;
        return lo;
    }

    /// <summary>A compression factor for the parameters: up to 4 decimals.</summary>
    public static string Format(double c) => c.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The smallest total rows any uniform factor reaches (for the unreachable reason).</summary>
    public static long QrFewestRows(IReadOnlyList<long> cardinalities)
    {
        long top = Math.Max(2, cardinalities.Max());
        long fewest = long.MaxValue;
        for (long c = 2; c <= top; c = Math.Max(c + 1, (long)(c * 1.01))) fewest = Math.Min(fewest, cardinalities.Sum(n => QrRows(n, c)));
        return fewest;
    }
}
