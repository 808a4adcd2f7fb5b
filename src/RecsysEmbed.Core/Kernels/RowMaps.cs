using System.Runtime.CompilerServices;
using RecsysEmbed.Core.Hashing;

namespace RecsysEmbed.Core.Kernels;

/// <summary>
/// Maps an id to a row of one matrix. Implemented by small structs so that the generic kernels are
/// specialised by the JIT and the mapping inlines into the gather loop.
/// </summary>
public interface IRowMap
{
    long Map(long id);
}

/// <summary>Identity: row = id (the caller has checked id &lt; rows).</summary>
public readonly struct IdentityMap : IRowMap
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Map(long id) => id;
}

/// <summary>The hashing trick: row = hash(id, seed) mod buckets.</summary>
public readonly struct HashMap(ulong seed, long buckets) : IRowMap
{
    public readonly ulong Seed = seed;
    public readonly long Buckets = buckets;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Map(long id) => BucketHash.Bucket(id, Seed, Buckets);
}

/// <summary>
/// One digit of a mixed-radix decomposition, after reducing the id to [0, cardinality):
/// row = (id' / divisor) mod radix, with id' = id when id &lt; cardinality, else hash(id) mod cardinality.
/// With divisor 1 and radix c this is QR's remainder; with divisor c and radix ceil(n/c) the quotient.
/// </summary>
public readonly struct RadixDigitMap(long cardinality, long divisor, long radix, ulong overflowSeed) : IRowMap
{
    public readonly long Cardinality = cardinality;
    public readonly long Divisor = divisor;
    public readonly long Radix = radix;
    public readonly ulong OverflowSeed = overflowSeed;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Map(long id)
    {
        long v = id < Cardinality ? id : BucketHash.Bucket(id, OverflowSeed, Cardinality);
        return v / Divisor % Radix;
    }
}
