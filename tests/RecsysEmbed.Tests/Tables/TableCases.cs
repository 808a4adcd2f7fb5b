using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// A small table of one family with random weights in [-1, 1], the pool its test ids come from, and the family's
/// math rebuilt in torch from the table's own row mapping (RowOf / Locate): per-id vectors, N x OutputDim_f.
/// </summary>
internal sealed class TableCase : IDisposable
{
    public required string Variant { get; init; }
    public required IEmbeddingTable Table { get; init; }
    /// <summary>Distinct ids the tests draw from; few, so repeats within and across bags are common.</summary>
    public required long[] IdPool { get; init; }
    /// <summary>Per-id vectors of feature f for ids, from leaves keyed by matrix.</summary>
    public required Func<int, long[], IReadOnlyDictionary<EmbeddingMatrix, Tensor>, Tensor> PerId { get; init; }

    public void Dispose() => Table.Dispose();
}

/// <summary>Bags of one feature: ids, offsets (B + 1) and optional per-id weights.</summary>
internal sealed record BagInput(long[] Ids, int[] Offsets, float[]? Weights)
{
    public int BagCount => Offsets.Length - 1;

    public JaggedFeature View() => new(Ids, Offsets, Weights);

    /// <summary>
    /// Seven bags of lengths 3, 0, 5, 1, 4, 2, 6 drawn from the pool: bag 1 is empty, bag 0 repeats its first id,
    /// and bag 2 starts with an id of bag 0, so ids repeat within a bag and across bags. Offsets start at
    /// <paramref name="baseOffset"/> (a view of a slice of a larger batch).
    /// </summary>
    public static BagInput Random(Random rng, long[] pool, bool weighted, int baseOffset = 0)
    {
        int[] lengths = [3, 0, 5, 1, 4, 2, 6];
        var offsets = new int[lengths.Length + 1];
        offsets[0] = baseOffset;
        for (int b = 0; b < lengths.Length; b++) offsets[b + 1] = offsets[b] + lengths[b];
        var ids = new long[offsets[^1] - baseOffset];
        for (int i = 0; i < ids.Length; i++) ids[i] = pool[rng.Next(pool.Length)];
        ids[2] = ids[0];
        ids[offsets[2] - baseOffset] = ids[1];
        float[]? weights = weighted ? Enumerable.Range(0, ids.Length).Select(_ => 0.25f + 1.5f * rng.NextSingle()).ToArray() : null;
        return new BagInput(ids, offsets, weights);
    }
}

internal static class TableCases
{
    /// <summary>Every variant, as named in the theories.</summary>
    public static readonly string[] All =
    [
        "full",
        "hash-k1", "hash-k2-sum", "hash-k2-concat",
        "qr-add", "qr-mult", "qr-concat", "qr-3way-mult", "qr-3way-concat",
        "md-proj", "md-noproj", "md-hot-tail", "md-hot-ranks", "md-hashed-tail",
        "ue",
        "tt", "tt-rank1", "robe-z4", "robe-z1",
    ];

    private const long QrCardinality = 300;
    private const long MdCardinality = 300;

    public static float[] RandomArray(Random rng, long count, float bound = 1f)
    {
        var a = new float[count];
        for (long i = 0; i < count; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
        return a;
    }

    /// <summary>Builds a variant whose features all pool with <paramref name="pooling"/>.</summary>
    public static TableCase Create(string variant, PoolingMode pooling, SparseOptimizerSettings optimizer, int seed = 7)
    {
        var rng = new Random(seed);
        TableFeature[] one = [new("f0", pooling)];
        TableCase c = variant switch
        {
            "full" => Full(new FullTable("full", one, rows: 200, dim: 13, optimizer), rng),
            "hash-k1" => Hashed(new HashedTable("hash", one, buckets: 64, dim: 8, hashCount: 1, HashCombine.Sum, optimizer), rng),
            "hash-k2-sum" => Hashed(new HashedTable("hash", one, buckets: 64, dim: 12, hashCount: 2, HashCombine.Sum, optimizer), rng),
            "hash-k2-concat" => Hashed(new HashedTable("hash", one, buckets: 64, dim: 5, hashCount: 2, HashCombine.Concat, optimizer), rng),
            "qr-add" => Qr(new QuotientRemainderTable("qr", one, QrCardinality, 8, QuotientRemainderTable.QuotientRemainderRadices(QrCardinality, 16), QrCombine.Add, optimizer), rng),
            "qr-mult" => Qr(new QuotientRemainderTable("qr", one, QrCardinality, 9, QuotientRemainderTable.QuotientRemainderRadices(QrCardinality, 16), QrCombine.Multiply, optimizer), rng),
            "qr-concat" => Qr(new QuotientRemainderTable("qr", one, QrCardinality, 6, QuotientRemainderTable.QuotientRemainderRadices(QrCardinality, 16), QrCombine.Concat, optimizer), rng),
            "qr-3way-mult" => Qr(new QuotientRemainderTable("qr", one, QrCardinality, 4, [5, 7, 9], QrCombine.Multiply, optimizer), rng),
            "qr-3way-concat" => Qr(new QuotientRemainderTable("qr", one, QrCardinality, 3, [5, 7, 9], QrCombine.Concat, optimizer), rng),
            // Per-feature variant: one block narrower than the output, lifted by a projection.
            "md-proj" => Md(new MixedDimensionTable("md", one[0], MdCardinality, [new(MdCardinality, 6)], 16, optimizer), rng),
            // One block as wide as the output: no projection.
            "md-noproj" => Md(new MixedDimensionTable("md", one[0], MdCardinality, [new(MdCardinality, 16)], 16, optimizer), rng),
            // Within-feature variant: a full-width hot block and a narrow projected tail.
            "md-hot-tail" => Md(new MixedDimensionTable("md", one[0], MdCardinality, [new(24, 16), new(MdCardinality - 24, 4)], 16, optimizer), rng),
            // Hot ids from a measured index (ranks); unlisted ids and ranks past the hot block go to the tail by hash.
            "md-hot-ranks" => Md(new MixedDimensionTable("md", one[0], MdCardinality, [new(10, 12), new(MdCardinality - 10, 5)], 12, optimizer,
                                                          hotRanks: HotRanks), rng),
            // Hot block exact, every other id (ids >= cardinality too) hashed into 37 narrow tail buckets.
            "md-hashed-tail" => Md(new MixedDimensionTable("md", one[0], MdCardinality, [new(24, 16), new(37, 4, Hashed: true)], 16, optimizer, seed: 5), rng),
            "ue" => Unified(new UnifiedTable("ue", [new UnifiedFeature("f0", 2, pooling), new UnifiedFeature("f1", 1, pooling)], buckets: 61, dim: 8, optimizer), rng),
            // TT: 300 ids over 7 x 7 x 7 rows, dim 12 = 2 x 2 x 3; ids >= 300 hashed in first.
            "tt" => TensorTrain(new TensorTrainTable("tt", one, QrCardinality, 12, 3, optimizer), rng),
            "tt-rank1" => TensorTrain(new TensorTrainTable("tt", one, QrCardinality, 8, 1, optimizer), rng),
            // ROBE: blocks of 4 of a dim-8 vector in a 37-weight array (blocks wrap around its end), and Z = 1.
            "robe-z4" => Robe(new RobeTable("robe", [new("f0", pooling), new("f1", pooling)], 37, 8, 4, optimizer), rng),
            "robe-z1" => Robe(new RobeTable("robe", one, 23, 6, 1, optimizer), rng),
            _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "unknown variant"),
        };
        foreach (var m in c.Table.Matrices) m.SetWeights(RandomArray(rng, m.WeightCount));
        return c;
    }

    private static readonly Dictionary<long, long> HotRanks = new()
    {
        [1_000_003] = 0, [42] = 1, [7] = 2, [250] = 3, [99_999_999_999] = 4, [3] = 5, [120] = 6, [11] = 7, [64] = 8, [5] = 9,
        [77] = 40, // listed, but its rank is past the hot block: hashed into the tail
    };

    private static long[] Pool(Random rng, long maxExclusive, int randomCount, params long[] special)
    {
        var pool = new HashSet<long>(special);
        while (pool.Count < special.Length + randomCount) pool.Add(rng.NextInt64(maxExclusive));
        return pool.Order().ToArray();
    }

    private static TableCase Full(FullTable t, Random rng) => new()
    {
        Variant = "full",
        Table = t,
        IdPool = Pool(rng, t.Rows, 10, 0, t.Rows - 1),
        PerId = (_, ids, leaves) => TorchReference.Gather(leaves[t.Weights], ids),
    };

    private static TableCase Hashed(HashedTable t, Random rng) => new()
    {
        Variant = "hash",
        Table = t,
        IdPool = Pool(rng, 1L << 40, 11, 0),
        PerId = (_, ids, leaves) =>
        {
            var parts = Enumerable.Range(0, t.HashCount).Select(j => TorchReference.Gather(leaves[t.Weights], ids.Select(id => t.RowOf(id, j)))).ToList();
            return t.Combine == HashCombine.Concat ? torch.cat(parts, 1) : parts.Aggregate((a, b) => a + b);
        },
    };

    private static TableCase Qr(QuotientRemainderTable t, Random rng) => new()
    {
        Variant = "qr",
        Table = t,
        // Ids >= cardinality are hashed into [0, n) first.
        IdPool = Pool(rng, t.Cardinality, 9, 0, t.Cardinality - 1, 12_345, 1L << 40),
        PerId = (_, ids, leaves) =>
        {
            var parts = Enumerable.Range(0, t.Radices.Count).Select(j => TorchReference.Gather(leaves[t.Matrices[j]], ids.Select(id => t.RowOf(id, j)))).ToList();
            return t.Combine switch
            {
                QrCombine.Add => parts.Aggregate((a, b) => a + b),
                QrCombine.Multiply => parts.Aggregate((a, b) => a * b),
                _ => torch.cat(parts, 1),
            };
        },
    };

    private static TableCase Md(MixedDimensionTable t, Random rng) => new()
    {
        Variant = "md",
        Table = t,
        IdPool = Pool(rng, t.Cardinality, 8, 0, 1, 5, 7, 42, 77, 1_000_003, 5_000),
        PerId = (_, ids, leaves) =>
        {
            var located = ids.Select(t.Locate).ToArray();
            Tensor? sum = null;
            for (int k = 0; k < t.Blocks.Count; k++)
            {
                // Every id gathers a row of every block (row 0 when it lives elsewhere) and is masked: the masked
                // rows get exactly zero gradient.
                int block = k;
                var e = TorchReference.Gather(leaves[t.Blocks[k]], located.Select(l => l.Block == block ? l.Row : 0))
                        * TorchReference.Mask(located.Select(l => l.Block == block));
                if (t.Projections[k] is { } p) e = e.matmul(leaves[p]);
                sum = sum is null ? e : sum + e;
            }
            return sum!;
        },
    };

    private static TableCase TensorTrain(TensorTrainTable t, Random rng) => new()
    {
        Variant = "tt",
        Table = t,
        IdPool = Pool(rng, t.Cardinality, 9, 0, t.Cardinality - 1, 1L << 40),
        PerId = (_, ids, leaves) =>
        {
            var (d1, d2, d3) = t.Factors;
            long r = t.Rank, n = ids.Length;
            var g1 = TorchReference.Gather(leaves[t.Matrices[0]], ids.Select(id => t.RowOf(id, 0))).reshape(n, d1, r);
            var g2 = TorchReference.Gather(leaves[t.Matrices[1]], ids.Select(id => t.RowOf(id, 1))).reshape(n, r, d2, r);
            var g3 = TorchReference.Gather(leaves[t.Matrices[2]], ids.Select(id => t.RowOf(id, 2))).reshape(n, r, d3);
            return torch.einsum("nib,nbja,nak->nijk", g1, g2, g3).reshape(n, (long)d1 * d2 * d3);
        },
    };

    private static TableCase Robe(RobeTable t, Random rng) => new()
    {
        Variant = "robe",
        Table = t,
        IdPool = Pool(rng, 1L << 40, 11, 0),
        PerId = (f, ids, leaves) =>
        {
            var located = ids.SelectMany(id => Enumerable.Range(0, t.Dim).Select(j => t.Locate(f, id, j))).ToArray();
            var values = TorchReference.Gather(leaves[t.Array], located.Select(l => l.Index));
            var signs = torch.tensor(located.Select(l => (double)l.Sign).ToArray(), new long[] { located.Length, 1 });
            return (values * signs).reshape(ids.Length, t.Dim);
        },
    };

    private static TableCase Unified(UnifiedTable t, Random rng) => new()
    {
        Variant = "ue",
        Table = t,
        IdPool = Pool(rng, 1L << 40, 11, 0),
        PerId = (f, ids, leaves) =>
        {
            var parts = Enumerable.Range(0, t.Chunks(f)).Select(j => TorchReference.Gather(leaves[t.Weights], ids.Select(id => t.RowOf(f, j, id)))).ToList();
            return parts.Count == 1 ? parts[0] : torch.cat(parts, 1);
        },
    };
}
