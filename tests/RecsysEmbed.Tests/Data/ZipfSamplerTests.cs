using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Data.Synthetic;

namespace RecsysEmbed.Tests.Data;

public class ZipfSamplerTests
{
    [Theory]
    [InlineData(50L, 1.05)]                 // alias table
    [InlineData(3L, 1.4)]
    [InlineData(200_000L, 1.1)]             // rejection-inversion
    [InlineData(100_000_000L, 1.3)]
    public void Sample_StaysInRange_AndMatchesTheExactHeadProbabilities(long n, double s)
    {
        var sampler = new ZipfSampler(n, s);
        var rng = new SplitMix64(12345);
        const int draws = 400_000;
        var head = new long[11];
        for (int i = 0; i < draws; i++)
        {
            long k = sampler.Sample(ref rng);
            Assert.InRange(k, 1, n);
            if (k <= 10) head[k]++;
        }
        double z = HarmonicNumber(n, s);
        for (int k = 1; k <= Math.Min(10, n); k++)
        {
            double p = Math.Pow(k, -s) / z;
            double sd = Math.Sqrt(draws * p * (1 - p));
            Assert.True(Math.Abs(head[k] - draws * p) < 5 * sd + 1, $"rank {k}: {head[k]} draws, expected {draws * p:F0} +- {sd:F0}");
        }
    }

    [Fact]
    public void Sample_IsDeterministicForASeed()
    {
        var sampler = new ZipfSampler(10_000_000, 1.2);
        var a = new SplitMix64(7);
        var b = new SplitMix64(7);
        for (int i = 0; i < 1000; i++) Assert.Equal(sampler.Sample(ref a), sampler.Sample(ref b));
    }

    // sum_{k=1..n} k^-s, exact for small n and by Euler-Maclaurin for large n
    private static double HarmonicNumber(long n, double s)
    {
        const long exact = 1_000_000;
        double sum = 0;
        for (long k = 1; k <= Math.Min(n, exact); k++) sum += Math.Pow(k, -s);
        if (n <= exact) return sum;
        double a = exact + 0.5, b = n + 0.5; // midpoint rule for the tail (error far below the test tolerance)
        return sum + (Math.Pow(a, 1 - s) - Math.Pow(b, 1 - s)) / (s - 1);
    }
}
