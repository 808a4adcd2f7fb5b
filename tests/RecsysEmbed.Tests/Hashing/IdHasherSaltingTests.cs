using System.Text;
using RecsysEmbed.Core.Hashing;

namespace RecsysEmbed.Tests.Hashing;

public class IdHasherSaltingTests
{
    [Fact]
    public void SameRawValueInTwoFeatures_GetsDifferentIds()
    {
        var c1 = new IdHasher("C1");
        var c2 = new IdHasher("C2");
        Assert.NotEqual(c1.Seed, c2.Seed);
        Assert.NotEqual(c1.HashString("42"), c2.HashString("42"));
        Assert.NotEqual(c1.HashInt64(42), c2.HashInt64(42));
        Assert.NotEqual(c1.HashUtf8("68fd1e64"u8), c2.HashUtf8("68fd1e64"u8));
    }

    [Fact]
    public void ManyRawValues_HaveNoSystematicCollisionAcrossFeatures()
    {
        const int n = 100_000;
        const long buckets = 1000;
        var c1 = new IdHasher("C1");
        var c2 = new IdHasher("C2");
        int equalIds = 0, equalBuckets = 0;
        for (int v = 0; v < n; v++)
        {
            long a = c1.HashInt64(v), b = c2.HashInt64(v);
            if (a == b) equalIds++;
            if (BucketHash.Bucket(a, 5, buckets) == BucketHash.Bucket(b, 5, buckets)) equalBuckets++;
        }

        // 63-bit ids: the expected number of equal pairs is n / 2^63, so any equal id is systematic.
        Assert.Equal(0, equalIds);
        // After bucketing, two unrelated ids agree with probability 1/m: stay within a 5-sigma binomial band.
        double p = 1.0 / buckets, mean = n * p, sigma = Math.Sqrt(n * p * (1 - p));
        Assert.InRange(equalBuckets, mean - 5 * sigma, mean + 5 * sigma);
    }

    [Fact]
    public void DifferentGlobalSeeds_GiveDifferentIds()
    {
        var a = new IdHasher("C1", 1);
        var b = new IdHasher("C1", 2);
        Assert.NotEqual(a.Seed, b.Seed);
        int equal = 0;
        for (int v = 0; v < 10_000; v++)
        {
            if (a.HashInt64(v) == b.HashInt64(v)) equal++;
            if (a.HashString(v.ToString()) == b.HashString(v.ToString())) equal++;
        }
        Assert.Equal(0, equal);
    }

    [Fact]
    public void Hashing_IsDeterministicAcrossInstances()
    {
        var first = new IdHasher("C3", 99);
        var second = new IdHasher("C3", 99);
        Assert.Equal(first.Seed, second.Seed);
        var rng = new Random(3);
        for (int i = 0; i < 1000; i++)
        {
            long raw = rng.NextInt64();
            Assert.Equal(first.HashInt64(raw), second.HashInt64(raw));
            string s = raw.ToString("x");
            Assert.Equal(first.HashString(s), second.HashString(s));
        }
    }

    [Fact]
    public void HashString_EqualsHashUtf8OfItsBytes_ShortLongAndNonAscii()
    {
        var hasher = new IdHasher("C4");
        string[] values = ["", "a", "68fd1e64", "héllo wörld ✓", new string('x', 300), new string('é', 200)];
        foreach (string v in values)
            Assert.Equal(hasher.HashUtf8(Encoding.UTF8.GetBytes(v)), hasher.HashString(v));
    }

    [Fact]
    public void Ids_AreNonNegative()
    {
        var hasher = new IdHasher("C5");
        for (long v = -5000; v < 5000; v++)
        {
            Assert.True(hasher.HashInt64(v) >= 0);
            Assert.True(hasher.HashString(v.ToString()) >= 0);
        }
    }

    [Fact]
    public void Constructor_ThrowsForEmptyFeatureName()
    {
        var ex = Assert.Throws<ArgumentException>(() => new IdHasher(""));
        Assert.Equal("featureName", ex.ParamName);
    }
}
