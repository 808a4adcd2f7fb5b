using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Text;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Kernels;
using RecsysEmbed.Core.Optimizers;

namespace RecsysEmbed.Core.Tables;

/// <summary>
/// ROBE-Z, random offset block embedding (Desai et al., 2022): every feature's embeddings are read from one shared
/// array M of Size floats. The Dim-wide vector of value v of feature f is cut into blocks of Z consecutive
/// elements; block k starts at a hashed offset h(f, v, k) anywhere in M (wrapping around) and carries a hashed sign:
/// <code>
///   M  [ .................................................................... ]   Size floats, shared
///            ^ h(f,v,0)                       ^ h(f,v,1)
///   e(v) = [ s0 M[h0] s0 M[h0+1] .. s0 M[h0+Z-1] | s1 M[h1] .. s1 M[h1+Z-1] | ... ]        Dim floats
/// </code>
/// Blocks of different values overlap at random offsets, so the array is shared at the granularity of single
/// weights rather than whole rows (the hashing trick), and a block read is contiguous (cache friendly).
/// M is an <see cref="EmbeddingMatrix"/> of Size rows of width 1, so the fused optimizers update each touched
/// weight once; note that row-wise Adagrad then keeps one accumulator per weight (it is plain Adagrad).
/// </summary>
public sealed unsafe class RobeTable : EmbeddingTableBase
{
    private readonly EmbeddingMatrix _array;
    private readonly RowGradientAccumulator _grads;
    private readonly ulong[] _featureSeeds;
    private readonly int _dim;

    public RobeTable(string name, IReadOnlyList<TableFeature> features, long size, int dim, int blockSize, SparseOptimizerSettings optimizer,
                     ulong seed = 1, TableInit? init = null)
        : base(name, features.Select(f => (f.Name, f.Pooling, dim)).ToArray())
    {
        if (size < 1) ThrowHelper.OutOfRange(nameof(size), size, $"table '{name}': the shared array needs at least one weight.");
        if (blockSize < 1 || blockSize > dim) ThrowHelper.OutOfRange(nameof(blockSize), blockSize, $"table '{name}': the block size must be in [1, dim = {dim}].");
        _dim = dim;
        BlockSize = blockSize;
        _array = new EmbeddingMatrix(name, size, 1, optimizer);
        // A full table's default init (sqrt(1 / rows)) would be tiny for an array of single weights: use the bound
        // of a table with Size / Dim rows, which holds the same number of weights.
        var effective = init ?? TableInit.Default;
        float bound = effective.UniformBound ?? (float)Math.Sqrt(1.0 / Math.Max(1, size / dim));
        _array.InitUniform(bound, BucketHash.DeriveSeed(effective.Seed, 0));
        _grads = new RowGradientAccumulator(1);
        _featureSeeds = features.Select(f => XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(f.Name), (long)seed)).ToArray();
    }

    public override string Family => "robe";
    public long Size => _array.Rows;
    public int Dim => _dim;
    public int BlockSize { get; }
    public EmbeddingMatrix Array => _array;
    public override IReadOnlyList<EmbeddingMatrix> Matrices => [_array];

    /// <summary>Index in the shared array and sign of element j of the embedding of id for feature f.</summary>
    public (long Index, float Sign) Locate(int feature, long id, int element)
    {
        if ((uint)element >= (uint)_dim) ThrowHelper.OutOfRange(nameof(element), element, $"dim is {_dim}.");
        int block = element / BlockSize;
        ulong h = BlockHash(_featureSeeds[feature], id, block);
        return (Wrap(Offset(h) + element - block * BlockSize), Sign(h));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong BlockHash(ulong featureSeed, long id, int block) => BucketHash.Mix(id, BucketHash.DeriveSeed(featureSeed, block));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long Offset(ulong h) => (long)Math.BigMul(h, (ulong)_array.Rows, out _);

    // The lowest bit is independent of the offset, which uses the high bits of the product.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sign(ulong h) => (h & 1) == 0 ? 1f : -1f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long Wrap(long index) => index >= _array.Rows ? index % _array.Rows : index;

    protected override void ValidateIds(int feature, ReadOnlySpan<long> ids)
    {
        for (int i = 0; i < ids.Length; i++)
            if (ids[i] < 0) ThrowHelper.NegativeId("ids", ids[i], i);
    }

    /// <summary>Adds the id's blocks, each from its hashed offset in the shared array, with its sign.</summary>
    private readonly struct ForwardKernel(float* array, long size, int dim, int blockSize, ulong featureSeed) : IBagKernel
    {
        public int OutputDim => dim;
        public int ScratchFloats => 0;

        public void Add(long id, float scale, float* dst, float* scratch)
        {
            for (int j0 = 0, block = 0; j0 < dim; j0 += blockSize, block++)
            {
                ulong h = BlockHash(featureSeed, id, block);
                long offset = (long)Math.BigMul(h, (ulong)size, out _);
                float signed = scale * Sign(h);
                int width = Math.Min(blockSize, dim - j0);
                if (offset + width <= size)
                {
                    AxpyKernel.Axpy(signed, array + offset, dst + j0, width);
                }
                else
                {
                    for (int j = 0; j < width; j++)
                    {
                        long index = offset + j;
                        dst[j0 + j] += signed * array[index >= size ? index % size : index];
                    }
                }
            }
        }
    }

    protected override void ForwardFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* output, int stride) =>
        ForwardBags(new ForwardKernel(_array.WeightsPointer, _array.Rows, _dim, BlockSize, _featureSeeds[feature]), input, pooling, output, stride);

    protected override void AccumulateFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* gradOutput, int stride)
    {
        ulong fseed = _featureSeeds[feature];
        int z = BlockSize;
        for (int b = 0; b < input.BagCount; b++)
        {
            int start = input.BagStart(b), end = start + input.BagLength(b);
            float* g = gradOutput + (long)b * stride;
            for (int i = start; i < end; i++)
            {
                float s = Scale(input, pooling, i, start, end);
                long id = input.Ids[i];
                for (int j0 = 0, block = 0; j0 < _dim; j0 += z, block++)
                {
                    ulong h = BlockHash(fseed, id, block);
                    long offset = Offset(h);
                    float signed = s * Sign(h);
                    int width = Math.Min(z, _dim - j0);
                    for (int j = 0; j < width; j++) *_grads.Slot(Wrap(offset + j)) += signed * g[j0 + j];
                }
            }
        }
    }

    protected override void ApplyAccumulated() => _grads.ApplyTo(_array, Threads);
    protected override void DiscardAccumulated() => _grads.Clear();

    public override void Dispose()
    {
        _grads.Dispose();
        base.Dispose();
    }
}
