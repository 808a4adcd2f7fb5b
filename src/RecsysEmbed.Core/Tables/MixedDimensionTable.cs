using System.Numerics.Tensors;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Kernels;
using RecsysEmbed.Core.Optimizers;

namespace RecsysEmbed.Core.Tables;

/// <summary>
/// A block of a mixed-dimension table: Rows ids (by frequency rank) stored with Dim floats each. A hashed block
/// (the last one only) is instead Rows buckets that every id past the exact blocks hashes into.
/// </summary>
public sealed record MixedDimensionBlock(long Rows, int Dim, bool Hashed = false);

/// <summary>
/// Mixed-dimension embeddings (Ginart et al., 2021). A feature's ids, ordered by frequency rank, are cut into blocks;
/// block k stores its rows with its own width d_k and a learned projection P_k (d_k x D) lifts them to the shared
/// output width D (no projection when d_k = D). With one block this is the per-feature variant (the feature's width
/// comes from <see cref="MixedDimensionRule"/>); with a hot block and a tail it is the within-feature variant.
/// <code>
///   ranks [0, H)    -> hot block  E_0: H x d_0      -> e P_0   (d_0 x D)
///   ranks [H, n)    -> tail block E_1: (n-H) x d_1  -> e P_1   (d_1 x D)
/// </code>
/// With a hashed tail (<see cref="MixedDimensionBlock.Hashed"/> on the last block) the exact blocks hold the head of
/// ranks [0, H) one row each and every other id, whatever its value, shares the tail's B buckets:
/// <code>
///   ranks [0, H)    -> hot block  E_0: H x d_0      -> e P_0
///   any other id v  -> tail block E_1: B x d_1, row Bucket(v, seed) -> e P_1
/// </code>
/// Pooling is linear, so a bag is pooled per block in the small width first and projected once.
/// The rank of an id is the id itself when ids are frequency-ranked indices (the default; ids &gt;= n are hashed
/// into [0, n)), or comes from a measured hot-id index: listed ids get their rank, all others fall in the last block.
/// </summary>
public sealed unsafe class MixedDimensionTable : EmbeddingTableBase
{
    private readonly EmbeddingMatrix[] _blocks;
    private readonly EmbeddingMatrix?[] _projections;
    private readonly RowGradientAccumulator[] _blockGrads;
    private readonly RowGradientAccumulator?[] _projectionGrads;
    private readonly long[] _blockStart;
    private readonly IReadOnlyDictionary<long, long>? _hotRanks;
    private readonly ulong _overflowSeed;
    private readonly float[] _pooled;      // concatenated per-block pooled vectors of one bag
    private readonly int[] _pooledOffset;  // start of block k in _pooled
    private readonly float[] _gradPooled;
    private readonly List<EmbeddingMatrix> _all = new();

    public MixedDimensionTable(string name, TableFeature feature, long cardinality, IReadOnlyList<MixedDimensionBlock> blocks, int outputDim,
                               SparseOptimizerSettings optimizer, ulong seed = 1, TableInit? init = null,
                               IReadOnlyDictionary<long, long>? hotRanks = null)
        : base(name, [(feature.Name, feature.Pooling, outputDim)])
    {
        HashedTail = CheckBlocks(name, cardinality, blocks);
        if (hotRanks != null)
        {
            // A negative rank would address a row before block 0's storage.
            foreach (var (id, rank) in hotRanks)
            {
                if (rank < 0) ThrowHelper.OutOfRange(nameof(hotRanks), rank, $"table '{name}': id {id} has negative rank {rank}.");
            }
        }
        Cardinality = cardinality;
        OutputDim = outputDim;
        _hotRanks = hotRanks;
        _overflowSeed = BucketHash.DeriveSeed(seed, 2000);
        var effectiveInit = init ?? TableInit.Default;
        _blocks = new EmbeddingMatrix[blocks.Count];
        _projections = new EmbeddingMatrix?[blocks.Count];
        _blockGrads = new RowGradientAccumulator[blocks.Count];
        _projectionGrads = new RowGradientAccumulator?[blocks.Count];
        _blockStart = new long[blocks.Count + 1];
        _pooledOffset = new int[blocks.Count + 1];
        for (int k = 0; k < blocks.Count; k++)
        {
            var b = blocks[k];
            if (b.Dim <= 0 || b.Dim > outputDim)
                ThrowHelper.OutOfRange(nameof(blocks), b.Dim, $"table '{name}': block {k} dim must be in [1, {outputDim}].");
            _blocks[k] = new EmbeddingMatrix($"{name}.b{k}", b.Rows, b.Dim, optimizer);
            effectiveInit.Apply(_blocks[k], 2 * k);
            _blockGrads[k] = new RowGradientAccumulator(b.Dim);
            _all.Add(_blocks[k]);
            if (b.Dim != outputDim)
            {
                var p = _projections[k] = new EmbeddingMatrix($"{name}.proj{k}", b.Dim, outputDim, optimizer);
                p.InitUniform((float)Math.Sqrt(1.0 / b.Dim), BucketHash.DeriveSeed(effectiveInit.Seed, 2 * k + 1));
                _projectionGrads[k] = new RowGradientAccumulator(outputDim);
                _all.Add(p);
            }
            _blockStart[k + 1] = _blockStart[k] + b.Rows;
            _pooledOffset[k + 1] = _pooledOffset[k] + b.Dim;
        }
        _pooled = new float[_pooledOffset[^1]];
        _gradPooled = new float[_pooledOffset[^1]];
    }

    /// <summary>
    /// Checks that the blocks cover the cardinality: exactly, or, when the last block is hashed, the exact blocks
    /// leave a non-empty tail for it. Returns whether the tail is hashed.
    /// </summary>
    internal static bool CheckBlocks(string name, long cardinality, IReadOnlyList<MixedDimensionBlock> blocks)
    {
        if (blocks.Count == 0) ThrowHelper.Argument(nameof(blocks), $"table '{name}' needs at least one block.");
        for (int k = 0; k < blocks.Count - 1; k++)
        {
            if (blocks[k].Hashed) ThrowHelper.Argument(nameof(blocks), $"table '{name}': only the last block can be hashed, block {k} is.");
        }
        bool hashed = blocks[^1].Hashed;
        if (!hashed)
        {
            long total = blocks.Sum(b => b.Rows);
            if (total != cardinality)
                ThrowHelper.Argument(nameof(blocks), $"table '{name}': blocks hold {total} rows but the cardinality is {cardinality}.");
            return false;
        }
        if (blocks.Count < 2) ThrowHelper.Argument(nameof(blocks), $"table '{name}': a hashed tail needs an exact block before it.");
        if (blocks[^1].Rows < 1) ThrowHelper.OutOfRange(nameof(blocks), blocks[^1].Rows, $"table '{name}': the hashed tail needs at least one bucket.");
        long exact = blocks.Take(blocks.Count - 1).Sum(b => b.Rows);
        if (exact >= cardinality)
            ThrowHelper.Argument(nameof(blocks), $"table '{name}': the exact blocks hold {exact} rows, leaving no tail of the cardinality {cardinality} to hash.");
        return true;
    }

    public override string Family => "md";
    /// <summary>Whether ids past the exact blocks share the last block's buckets by hash.</summary>
    public bool HashedTail { get; }
    public long Cardinality { get; }
    public int OutputDim { get; }
    public IReadOnlyList<EmbeddingMatrix> Blocks => _blocks;
    public IReadOnlyList<EmbeddingMatrix?> Projections => _projections;
    public override IReadOnlyList<EmbeddingMatrix> Matrices => _all;

    /// <summary>Block and row within it that store id.</summary>
    public (int Block, long Row) Locate(long id)
    {
        long rank;
        if (_hotRanks != null)
        {
            if (!_hotRanks.TryGetValue(id, out rank) || rank >= _blockStart[^2])
            {
                int last = _blocks.Length - 1;
                return (last, BucketHash.Bucket(id, _overflowSeed, _blocks[last].Rows));
            }
        }
        else if (HashedTail)
        {
            if (id >= _blockStart[^2])
            {
                int last = _blocks.Length - 1;
                return (last, BucketHash.Bucket(id, _overflowSeed, _blocks[last].Rows));
            }
            rank = id;
        }
        else
        {
            rank = id < Cardinality ? id : BucketHash.Bucket(id, _overflowSeed, Cardinality);
        }
        int k = 0;
        while (rank >= _blockStart[k + 1]) k++;
        return (k, rank - _blockStart[k]);
    }

    protected override void ForwardFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* output, int stride)
    {
        fixed (float* pooled = _pooled)
        {
            for (int b = 0; b < input.BagCount; b++)
            {
                PoolBag(input, pooling, b, pooled);
                float* dst = output + (long)b * stride;
                new Span<float>(dst, OutputDim).Clear();
                for (int k = 0; k < _blocks.Length; k++)
                {
                    float* x = pooled + _pooledOffset[k];
                    var p = _projections[k];
                    if (p is null)
                    {
                        AxpyKernel.Axpy(1f, x, dst, OutputDim);
                        continue;
                    }
                    // dst += x P  (x: 1 x d_k, P: d_k x D)
                    for (int r = 0; r < p.Rows; r++) AxpyKernel.Axpy(x[r], p.WeightsPointer + (long)r * OutputDim, dst, OutputDim);
                }
            }
        }
    }

    private void PoolBag(in JaggedFeature input, PoolingMode pooling, int b, float* pooled)
    {
        new Span<float>(pooled, _pooled.Length).Clear();
        int start = input.BagStart(b), end = start + input.BagLength(b);
        for (int i = start; i < end; i++)
        {
            var (k, row) = Locate(input.Ids[i]);
            var m = _blocks[k];
            AxpyKernel.Axpy(Scale(input, pooling, i, start, end), m.WeightsPointer + row * m.Dim, pooled + _pooledOffset[k], m.Dim);
        }
    }

    protected override void AccumulateFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* gradOutput, int stride)
    {
        fixed (float* pooled = _pooled)
        fixed (float* gradPooled = _gradPooled)
        {
            for (int b = 0; b < input.BagCount; b++)
            {
                float* g = gradOutput + (long)b * stride;
                var gSpan = new ReadOnlySpan<float>(g, OutputDim);
                bool needPooled = false;
                foreach (var p in _projections) needPooled |= p != null;
                if (needPooled) PoolBag(input, pooling, b, pooled);
                for (int k = 0; k < _blocks.Length; k++)
                {
                    var p = _projections[k];
                    float* gp = gradPooled + _pooledOffset[k];
                    if (p is null)
                    {
                        new ReadOnlySpan<float>(g, OutputDim).CopyTo(new Span<float>(gp, OutputDim));
                        continue;
                    }
                    // dL/dP[r,:] += x[r] g ;  dL/dx[r] = P[r,:] . g
                    float* x = pooled + _pooledOffset[k];
                    var acc = _projectionGrads[k]!;
                    for (int r = 0; r < p.Rows; r++)
                    {
                        float* prow = p.WeightsPointer + (long)r * OutputDim;
                        AxpyKernel.Axpy(x[r], g, acc.Slot(r), OutputDim);
                        gp[r] = TensorPrimitives.Dot(new ReadOnlySpan<float>(prow, OutputDim), gSpan);
                    }
                }
                int start = input.BagStart(b), end = start + input.BagLength(b);
                for (int i = start; i < end; i++)
                {
                    var (k, row) = Locate(input.Ids[i]);
                    AxpyKernel.Axpy(Scale(input, pooling, i, start, end), gradPooled + _pooledOffset[k], _blockGrads[k].Slot(row), _blocks[k].Dim);
                }
            }
        }
    }

    protected override void ApplyAccumulated()
    {
        for (int k = 0; k < _blocks.Length; k++)
        {
            _blockGrads[k].ApplyTo(_blocks[k], Threads);
            if (_projections[k] is { } p) _projectionGrads[k]!.ApplyTo(p, Threads);
        }
    }

    protected override void DiscardAccumulated()
    {
        foreach (var g in _blockGrads) g.Clear();
        foreach (var g in _projectionGrads) g?.Clear();
    }

    public override void Dispose()
    {
        foreach (var g in _blockGrads) g.Dispose();
        foreach (var g in _projectionGrads) g?.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// Ginart et al.'s power-law rule for mixed dimensions: d_i = lambda * n_i^(-alpha), with lambda set so the
/// feature (or block) with the smallest n gets the base dim; rounded to a multiple of 4 and clamped to [minDim, baseDim].
/// n_i is a cardinality, or 1 / frequency when frequencies were measured (more popular means larger).
/// alpha = 0 gives every feature the base dim; larger alpha shrinks rare/large features faster.
/// </summary>
public static class MixedDimensionRule
{
    public static int[] Dimensions(IReadOnlyList<double> n, double alpha, int baseDim, int minDim = 4, int multiple = 4)
    {
        if (n.Count == 0) return [];
        if (alpha < 0 || double.IsNaN(alpha)) ThrowHelper.OutOfRange(nameof(alpha), alpha, "temperature alpha must be >= 0.");
        if (baseDim <= 0) ThrowHelper.OutOfRange(nameof(baseDim), baseDim, "base dim must be > 0.");
        if (minDim <= 0 || minDim > baseDim) ThrowHelper.OutOfRange(nameof(minDim), minDim, $"min dim must be in [1, {baseDim}].");
        double nMin = double.MaxValue;
        for (int i = 0; i < n.Count; i++)
        {
            if (!(n[i] > 0)) ThrowHelper.OutOfRange(nameof(n), n[i], $"n[{i}] must be > 0.");
            nMin = Math.Min(nMin, n[i]);
        }
        // lambda * n^-alpha with lambda = baseDim * nMin^alpha, written as a ratio so nMin^alpha cannot overflow.
        var dims = new int[n.Count];
        for (int i = 0; i < n.Count; i++)
        {
            double raw = baseDim * Math.Pow(nMin / n[i], alpha);
            int rounded = (int)(Math.Round(raw / multiple) * multiple);
            dims[i] = Math.Clamp(rounded, minDim, baseDim);
        }
        return dims;
    }
}
