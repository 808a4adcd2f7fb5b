using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Kernels;
using RecsysEmbed.Core.Optimizers;

namespace RecsysEmbed.Core.Tables;

public enum HashCombine
{
    /// <summary>The k hashed rows are added: output width = Dim.</summary>
    Sum,
    /// <summary>The k hashed rows are concatenated: output width = k * Dim.</summary>
    Concat,
}

/// <summary>
/// The hashing trick and multi-hash: one Buckets x Dim matrix shared by k independent hash functions;
/// id v uses rows h_1(v) .. h_k(v), h_j(v) = mix(v ^ seed_j) mapped to [0, Buckets), combined by sum or concat.
/// k = 1 is the plain hashing trick. Any non-negative id is accepted.
/// <code>
///   v -> [ h_1(v) | h_2(v) ] -> W[h_1(v)] + W[h_2(v)]           (sum)
///                            -> W[h_1(v)] ++ W[h_2(v)]          (concat)
/// </code>
/// </summary>
public sealed unsafe class HashedTable : EmbeddingTableBase
{
    private readonly EmbeddingMatrix _matrix;
    private readonly RowGradientAccumulator _grads;
    private readonly HashMap[] _hashes;

    public HashedTable(string name, IReadOnlyList<TableFeature> features, long buckets, int dim, int hashCount, HashCombine combine,
                       SparseOptimizerSettings optimizer, ulong seed = 1, TableInit? init = null)
        : base(name, features.Select(f => (f.Name, f.Pooling, combine == HashCombine.Concat ? hashCount * dim : dim)).ToArray())
    {
        if (hashCount < 1) ThrowHelper.OutOfRange(nameof(hashCount), hashCount, $"table '{name}' needs at least one hash function.");
        Combine = combine;
        _matrix = new EmbeddingMatrix(name, buckets, dim, optimizer);
        (init ?? TableInit.Default).Apply(_matrix, 0);
        _grads = new RowGradientAccumulator(dim);
        _hashes = new HashMap[hashCount];
        for (int j = 0; j < hashCount; j++) _hashes[j] = new HashMap(BucketHash.DeriveSeed(seed, j), buckets);
    }

    public override string Family => "hash";
    public HashCombine Combine { get; }
    public int HashCount => _hashes.Length;
    public long Buckets => _matrix.Rows;
    public int Dim => _matrix.Dim;
    public EmbeddingMatrix Weights => _matrix;
    public override IReadOnlyList<EmbeddingMatrix> Matrices => [_matrix];

    /// <summary>Row used by hash function j for id (for tests and serving).</summary>
    public long RowOf(long id, int j) => _hashes[j].Map(id);

    protected override void ForwardFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* output, int stride)
    {
        fixed (long* ids = input.Ids)
        fixed (int* offsets = input.Offsets)
        fixed (float* weights = input.Weights)
        {
            for (int j = 0; j < _hashes.Length; j++)
            {
                int column = Combine == HashCombine.Concat ? j * _matrix.Dim : 0;
                bool overwrite = Combine == HashCombine.Concat || j == 0;
                var job = Job(_matrix, ids, input.Ids.Length, offsets, input.BagCount, input.HasWeights ? weights : null, pooling, output + column, stride, overwrite);
                GatherPoolKernel.Run(ref job, _hashes[j], Threads);
            }
        }
    }

    protected override void AccumulateFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* gradOutput, int stride)
    {
        for (int j = 0; j < _hashes.Length; j++)
        {
            int column = Combine == HashCombine.Concat ? j * _matrix.Dim : 0;
            AccumulateGather(_hashes[j], input, pooling, gradOutput, stride, column, _matrix.Dim, _grads);
        }
    }

    protected override void ApplyAccumulated() => _grads.ApplyTo(_matrix, Threads);
    protected override void DiscardAccumulated() => _grads.Clear();

    public override void Dispose()
    {
        _grads.Dispose();
        base.Dispose();
    }
}
