using System.Buffers;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Text;

namespace RecsysEmbed.Core.Hashing;

/// <summary>
/// Turns raw categorical values into 64-bit ids with XXH3-64, salted per feature: the seed of a feature is
/// XXH3(featureName, globalSeed), so "42" in feature C1 and "42" in feature C2 get unrelated ids.
/// Instances are immutable and thread-safe; hashing allocates nothing.
/// </summary>
public sealed class IdHasher
{
    public const ulong DefaultSeed = 0x5EC5E_3BEDul;

    public IdHasher(string featureName, ulong globalSeed = DefaultSeed)
    {
        ArgumentException.ThrowIfNullOrEmpty(featureName);
        FeatureName = featureName;
        Seed = (long)XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(featureName), (long)globalSeed);
    }

    public string FeatureName { get; }

    /// <summary>The per-feature salt handed to XXH3.</summary>
    public long Seed { get; }

    /// <summary>Id of an integer raw value (its 8 little-endian bytes are hashed).</summary>
    public long HashInt64(long rawValue)
    {
        Span<byte> bytes = stackalloc byte[8];
        Unsafe.WriteUnaligned(ref bytes[0], rawValue);
        return ToId(XxHash3.HashToUInt64(bytes, Seed));
    }

    /// <summary>Id of a string raw value (its UTF-8 bytes are hashed).</summary>
    public long HashString(ReadOnlySpan<char> rawValue)
    {
        int max = Encoding.UTF8.GetMaxByteCount(rawValue.Length);
        byte[]? rented = null;
        Span<byte> buffer = max <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(max));
        int n = Encoding.UTF8.GetBytes(rawValue, buffer);
        long id = ToId(XxHash3.HashToUInt64(buffer[..n], Seed));
        if (rented != null) ArrayPool<byte>.Shared.Return(rented);
        return id;
    }

    /// <summary>Id of raw UTF-8 bytes, for readers that never decode to strings.</summary>
    public long HashUtf8(ReadOnlySpan<byte> rawValue) => ToId(XxHash3.HashToUInt64(rawValue, Seed));

    // Ids are non-negative longs everywhere in the engine; dropping the top bit keeps 63 bits of hash.
    private static long ToId(ulong h) => (long)(h >> 1);
}

/// <summary>
/// Fast seeded 64-bit mixing used inside tables to map an id to a bucket (the "hashing trick").
/// A full avalanche finalizer (Stafford's Mix13 variant of MurmurHash3 fmix64) over id ^ seed; buckets are
/// taken with Lemire's multiply-shift range reduction, which is unbiased enough for m much less than 2^64 and
/// avoids a division.
/// </summary>
public static class BucketHash
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(long id, ulong seed)
    {
        ulong z = (ulong)id ^ seed;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBul;
        return z ^ (z >> 31);
    }

    /// <summary>Bucket in [0, buckets) for id under a seed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Bucket(long id, ulong seed, long buckets) =>
        (long)Math.BigMul(Mix(id, seed), (ulong)buckets, out _);

    /// <summary>Derives the seed of hash function <paramref name="index"/> of a family from a base seed.</summary>
    public static ulong DeriveSeed(ulong baseSeed, int index) =>
        Mix((long)baseSeed + index, 0x9E3779B97F4A7C15ul * (ulong)(index + 1));
}
