using System.Runtime.InteropServices;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Kernels;
using RecsysEmbed.Core.Optimizers;

namespace RecsysEmbed.Core.Tables;

/// <summary>
/// A full table: one Rows x Dim matrix, id i is row i. Ids must be in [0, Rows); an id outside is an error,
/// never a silent wrap. Every feature it serves has output width Dim.
/// <code>
///   ids [ 3 0 3 ] -> rows W[3], W[0], W[3] -> pooled per bag
/// </code>
/// </summary>
public sealed unsafe class FullTable : EmbeddingTableBase
{
    private readonly EmbeddingMatrix _matrix;
    private readonly RowGradientAccumulator _grads;

    public FullTable(string name, IReadOnlyList<TableFeature> features, long rows, int dim, SparseOptimizerSettings optimizer, TableInit? init = null)
        : base(name, features.Select(f => (f.Name, f.Pooling, dim)).ToArray())
    {
        _matrix = new EmbeddingMatrix(name, rows, dim, optimizer);
        (init ?? TableInit.Default).Apply(_matrix, 0);
        _grads = new RowGradientAccumulator(dim);
    }

    public override string Family => "full";
    public long Rows => _matrix.Rows;
    public int Dim => _matrix.Dim;
    public EmbeddingMatrix Weights => _matrix;
    public override IReadOnlyList<EmbeddingMatrix> Matrices => [_matrix];

    protected override void ValidateIds(int feature, ReadOnlySpan<long> ids)
    {
        long rows = _matrix.Rows;
        // As unsigned, negative ids are huge, so one vectorised max covers both ends of the range.
        if (ids.IsEmpty || System.Numerics.Tensors.TensorPrimitives.Max(MemoryMarshal.Cast<long, ulong>(ids)) < (ulong)rows) return;
        for (int i = 0; i < ids.Length; i++)
        {
            if ((ulong)ids[i] >= (ulong)rows) ThrowHelper.IdOutOfRange("ids", ids[i], rows, i);
        }
    }

    protected override void ForwardFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* output, int stride)
    {
        fixed (long* ids = input.Ids)
        fixed (int* offsets = input.Offsets)
        fixed (float* weights = input.Weights)
        {
            var job = Job(_matrix, ids, input.Ids.Length, offsets, input.BagCount, input.HasWeights ? weights : null, pooling, output, stride, overwrite: true);
            GatherPoolKernel.Run(ref job, new IdentityMap(), Threads);
        }
    }

    protected override void AccumulateFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* gradOutput, int stride) =>
        AccumulateGather(new IdentityMap(), input, pooling, gradOutput, stride, 0, _matrix.Dim, _grads);

    protected override void ApplyAccumulated() => _grads.ApplyTo(_matrix, Threads);
    protected override void DiscardAccumulated() => _grads.Clear();

    public override void Dispose()
    {
        _grads.Dispose();
        base.Dispose();
    }
}
