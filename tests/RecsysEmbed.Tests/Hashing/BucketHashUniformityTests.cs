using RecsysEmbed.Core.Hashing;

namespace RecsysEmbed.Tests.Hashing;

public class BucketHashUniformityTests
{
    private const int N = 200_000;

    [Fact]
    public void CriticalValue_MatchesTabulatedChiSquareQuantiles()
    {
        // Tabulated 99.9% quantiles of chi-square: df 10 -> 29.588, df 30 -> 59.703, df 100 -> 149.449.
        Assert.Equal(29.588, ChiSquare.CriticalValue(10), 0.3);
        Assert.Equal(59.703, ChiSquare.CriticalValue(30), 0.3);
        Assert.Equal(149.449, ChiSquare.CriticalValue(100), 0.5);
    }

    [Theory]
    [InlineData(97, 1ul)]
    [InlineData(1024, 1ul)]
    [InlineData(97, 0xDEADBEEFul)]
    [InlineData(1024, 0xDEADBEEFul)]
    public void Bucket_IsUniformOverSequentialIds(int buckets, ulong seed)
    {
        var counts = new long[buckets];
        for (long id = 0; id < N; id++) counts[BucketHash.Bucket(id, seed, buckets)]++;

        double stat = ChiSquare.UniformStatistic(counts);
        Assert.True(stat < ChiSquare.CriticalValue(buckets - 1),
            $"chi-square {stat:F1} >= 99.9% critical value {ChiSquare.CriticalValue(buckets - 1):F1} for m = {buckets}");
    }

    [Theory]
    [InlineData(97)]
    [InlineData(1024)]
    public void Bucket_IsUniformOverHashedStrings(int buckets)
    {
        var hasher = new IdHasher("C7");
        var counts = new long[buckets];
        Span<char> buffer = stackalloc char[32];
        for (int i = 0; i < N; i++)
        {
            // Raw values that look like Criteo's hex categories: short, sequential, highly similar.
            i.TryFormat(buffer, out int written, "x8");
            long id = hasher.HashString(buffer[..written]);
            counts[BucketHash.Bucket(id, 17, buckets)]++;
        }

        double stat = ChiSquare.UniformStatistic(counts);
        Assert.True(stat < ChiSquare.CriticalValue(buckets - 1),
            $"chi-square {stat:F1} >= 99.9% critical value {ChiSquare.CriticalValue(buckets - 1):F1} for m = {buckets}");
    }

    [Theory]
    [InlineData(97)]
    [InlineData(1024)]
    public void Bucket_IsUniformOverStrideIds(int buckets)
    {
        // Ids that share their low bits (multiples of 1024) must still spread.
        var counts = new long[buckets];
        for (long i = 0; i < N; i++) counts[BucketHash.Bucket(i << 10, 3, buckets)]++;

        double stat = ChiSquare.UniformStatistic(counts);
        Assert.True(stat < ChiSquare.CriticalValue(buckets - 1),
            $"chi-square {stat:F1} >= 99.9% critical value {ChiSquare.CriticalValue(buckets - 1):F1} for m = {buckets}");
    }

    [Fact]
    public void Bucket_IsAlwaysWithinRange()
    {
        var rng = new Random(11);
        long[] sizes = [1, 2, 3, 97, 1000, 1L << 40, long.MaxValue];
        for (int i = 0; i < 10_000; i++)
        {
            long id = rng.NextInt64(0, long.MaxValue);
            foreach (long m in sizes)
                Assert.InRange(BucketHash.Bucket(id, (ulong)i, m), 0, m - 1);
        }
    }

    [Fact]
    public void DeriveSeed_GivesDistinctSeedsPerIndex()
    {
        var seeds = new HashSet<ulong>();
        for (int j = 0; j < 1000; j++) Assert.True(seeds.Add(BucketHash.DeriveSeed(1, j)));
        Assert.NotEqual(BucketHash.DeriveSeed(1, 0), BucketHash.DeriveSeed(2, 0));
    }
}
