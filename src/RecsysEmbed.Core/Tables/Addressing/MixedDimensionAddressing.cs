using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Kernels;

namespace RecsysEmbed.Core.Tables.Addressing;

/// <summary>
/// <see cref="MixedDimensionTable"/>: id reads its row of the block holding its rank and, when that block is narrower
/// than the output, every row of the block's projection (d_k rows of OutputDim), so the projection travels with the
/// rows like any other parameter.
/// <code>
///   id -> rank -> block k, row r  -> rows [ b_k[r], proj_k[0], ..., proj_k[d_k - 1] ]  -> b_k[r] · proj_k
/// </code>
/// With a hashed tail, an id past the exact blocks reads row Bucket(id, seed) of the tail block, as the table does.
/// </summary>
public sealed unsafe class MixedDimensionAddressing : RowAddressingBase
{
    private readonly long[] _blockStart;
    private readonly int[] _blockMatrix;       // index of block k's matrix
    private readonly int[] _projectionMatrix;  // index of block k's projection, -1 when none
    private readonly int[] _blockDim;
    private readonly long _cardinality;
    private readonly int _outputDim;
    private readonly bool _hashedTail;

    public MixedDimensionAddressing(string tableName, FeatureSlot feature, long cardinality, IReadOnlyList<MixedDimensionBlock> blocks, int outputDim, ulong seed)
        : base(tableName, "md", [feature], ShapesOf(tableName, blocks, outputDim))
    {
        _hashedTail = MixedDimensionTable.CheckBlocks(tableName, cardinality, blocks);
        _cardinality = cardinality;
        _outputDim = outputDim;
        OverflowSeed = BucketHash.DeriveSeed(seed, 2000);
        _blockStart = new long[blocks.Count + 1];
        _blockMatrix = new int[blocks.Count];
        _projectionMatrix = new int[blocks.Count];
        _blockDim = new int[blocks.Count];
        int m = 0;
        for (int k = 0; k < blocks.Count; k++)
        {
            _blockStart[k + 1] = _blockStart[k] + blocks[k].Rows;
            _blockDim[k] = blocks[k].Dim;
            _blockMatrix[k] = m++;
            _projectionMatrix[k] = blocks[k].Dim != outputDim ? m++ : -1;
        }
    }

    private ulong OverflowSeed { get; }

    private static MatrixShape[] ShapesOf(string name, IReadOnlyList<MixedDimensionBlock> blocks, int outputDim)
    {
        var shapes = new List<MatrixShape>();
        for (int k = 0; k < blocks.Count; k++)
        {
            shapes.Add(new MatrixShape($"{name}.b{k}", blocks[k].Rows, blocks[k].Dim));
            if (blocks[k].Dim != outputDim) shapes.Add(new MatrixShape($"{name}.proj{k}", blocks[k].Dim, outputDim));
        }
        return shapes.ToArray();
    }

    public override int MaxRowsPerId(int feature) => 1 + _blockDim.Max(d => d == _outputDim ? 0 : d);

    public override int Resolve(int feature, long id, Span<PhysicalRow> rows)
    {
        Slot(feature);
        CheckNonNegative(id);
        int k;
        long row;
        int last = _blockDim.Length - 1;
        if (_hashedTail && id >= _blockStart[last])
        {
            k = last;
            row = BucketHash.Bucket(id, OverflowSeed, _blockStart[last + 1] - _blockStart[last]);
        }
        else
        {
            long rank = _hashedTail || id < _cardinality ? id : BucketHash.Bucket(id, OverflowSeed, _cardinality);
            k = 0;
            while (rank >= _blockStart[k + 1]) k++;
            row = rank - _blockStart[k];
        }
        int p = _projectionMatrix[k];
        int count = p < 0 ? 1 : 1 + _blockDim[k];
        CheckRoom(nameof(rows), count, rows.Length);
        rows[0] = new PhysicalRow(_blockMatrix[k], row);
        for (int r = 1; r < count; r++) rows[r] = new PhysicalRow(p, r - 1);
        return count;
    }

    public override void Combine(int feature, ReadOnlySpan<PhysicalRow> rows, ReadOnlySpan<float> values, Span<float> output)
    {
        int outDim = _outputDim;
        var dst = output[..outDim];
        if (rows.Length == 1)
        {
            values[..outDim].CopyTo(dst);
            return;
        }
        int blockDim = rows.Length - 1;
        dst.Clear();
        // dst += x P, row by row, in the table's order (x: 1 x d_k, P: d_k x D).
        fixed (float* v = values)
        fixed (float* d = dst)
        {
            float* x = v;
            float* p = v + blockDim;
            for (int r = 0; r < blockDim; r++) AxpyKernel.Axpy(x[r], p + (long)r * outDim, d, outDim);
        }
    }
}
