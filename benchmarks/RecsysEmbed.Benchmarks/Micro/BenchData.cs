namespace RecsysEmbed.Benchmarks.Micro;

public enum IdDistribution { Uniform, Zipf }

/// <summary>
/// Id batches of the shape of ../shared/perf/gather.c: B bags of exactly L ids, uniform or Zipf(1.05) ranks
/// mapped to rows through a random permutation (hot rows scattered over the table, as in real data).
/// </summary>
public static class BenchData
{
    public const int Bags = 4096;
    public const int Pooling = 20;
    /// <summary>
    /// Distinct id batches cycled through, as the C probe does: one batch's rows (21 MB at dim 64) would stay in the
    /// 32 MB L3 if it were repeated, and the benchmark would measure cache hits instead of memory.
    /// </summary>
    public const int IdSets = 16;

    public static long[] Ids(long rows, IdDistribution dist, int count, ulong seed)
    {
        var rng = new Core.Hashing.SplitMix64(seed);
        var ids = new long[count];
        if (dist == IdDistribution.Uniform)
        {
            for (int i = 0; i < count; i++) ids[i] = (long)(rng.Next() % (ulong)rows);
            return ids;
        }
        var cdf = new double[rows];
        double acc = 0;
        for (long k = 0; k < rows; k++) { acc += Math.Pow(k + 1, -1.05); cdf[k] = acc; }
        var perm = new int[rows];
        for (int k = 0; k < rows; k++) perm[k] = k;
        for (long k = rows - 1; k > 0; k--) { long j = (long)(rng.Next() % (ulong)(k + 1)); (perm[k], perm[j]) = (perm[j], perm[k]); }
        for (int i = 0; i < count; i++)
        {
            double u = rng.NextDouble() * acc;
            int idx = Array.BinarySearch(cdf, u);
            if (idx < 0) idx = ~idx;
            ids[i] = perm[Math.Min(idx, rows - 1)];
        }
        return ids;
    }

    /// <summary>Offsets 0, L, 2L, ..., B*L (B + 1 entries).</summary>
    public static int[] FixedOffsets(int bags, int pooling)
    {
        var offsets = new int[bags + 1];
        for (int b = 0; b <= bags; b++) offsets[b] = b * pooling;
        return offsets;
    }
}
