using System.IO.Hashing;
using System.Text;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Kernels;
using RecsysEmbed.Core.Optimizers;

namespace RecsysEmbed.Core.Tables;

/// <summary>A feature multiplexed into a unified table: it probes the shared table Chunks times.</summary>
public sealed record UnifiedFeature(string Name, int Chunks = 1, PoolingMode Pooling = PoolingMode.Sum);

/// <summary>
/// Unified embedding with feature multiplexing (Coleman et al., 2023): one shared Buckets x Dim matrix serves many
/// features. Feature f maps value v to bucket h_{f,j}(v) for chunk j = 1..c_f, each h_{f,j} an independent seeded
/// hash, and concatenates the c_f chunk vectors, so features may have different widths ("multi-size").
/// <code>
///   shared W: B x d
///   C1 (c=2): v -> W[h_{C1,1}(v)] ++ W[h_{C1,2}(v)]          width 2d
///   C2 (c=1): v -> W[h_{C2,1}(v)]                            width d
/// </code>
/// One backward over all features sums gradients of rows hit by several features before the single update.
/// </summary>
public sealed unsafe class UnifiedTable : EmbeddingTableBase
{
    private readonly EmbeddingMatrix _matrix;
    private readonly RowGradientAccumulator _grads;
    private readonly HashMap[][] _hashes; // [feature][chunk]

    public UnifiedTable(string name, IReadOnlyList<UnifiedFeature> features, long buckets, int dim, SparseOptimizerSettings optimizer,
                        ulong seed = 1, TableInit? init = null)
        : base(name, features.Select(f => (f.Name, f.Pooling, CheckedWidth(f, dim))).ToArray())
    {
        _matrix = new EmbeddingMatrix(name, buckets, dim, optimizer);
        (init ?? TableInit.Default).Apply(_matrix, 0);
        _grads = new RowGradientAccumulator(dim);
        _hashes = new HashMap[features.Count][];
        for (int f = 0; f < features.Count; f++)
        {
            ulong featureSeed = XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(features[f].Name), (long)seed);
            _hashes[f] = new HashMap[features[f].Chunks];
            for (int j = 0; j < features[f].Chunks; j++) _hashes[f][j] = new HashMap(BucketHash.DeriveSeed(featureSeed, j), buckets);
        }
    }

    private static int CheckedWidth(UnifiedFeature f, int dim)
    {
        if (f.Chunks < 1) ThrowHelper.OutOfRange("features", f.Chunks, $"feature '{f.Name}' needs at least one chunk.");
        return f.Chunks * dim;
    }

    public override string Family => "ue";
    public long Buckets => _matrix.Rows;
    public int Dim => _matrix.Dim;
    public EmbeddingMatrix Weights => _matrix;
    public override IReadOnlyList<EmbeddingMatrix> Matrices => [_matrix];

    public int Chunks(int feature) => _hashes[feature].Length;

    /// <summary>Bucket of chunk j of feature f for id (tests, serving).</summary>
    public long RowOf(int feature, int chunk, long id) => _hashes[feature][chunk].Map(id);

    /// <summary>
    /// Buckets that fit a budget of weight bytes: floor(budget / (dim * 4)). With <paramref name="includeOptimizerState"/>
    /// the optimizer's per-row state counts too. Throws when not even one row fits.
    /// </summary>
    public static long BucketsForBudget(long budgetBytes, int dim, SparseOptimizerSettings optimizer, bool includeOptimizerState = false)
    {
        if (dim <= 0) ThrowHelper.OutOfRange(nameof(dim), dim, "dim must be > 0.");
        long rowBytes = (long)dim * sizeof(float) + (includeOptimizerState ? (long)optimizer.StateWidth(dim) * sizeof(float) : 0);
        long buckets = budgetBytes / rowBytes;
        if (buckets < 1) ThrowHelper.OutOfRange(nameof(budgetBytes), budgetBytes, $"a budget of {budgetBytes} bytes holds no row of {rowBytes} bytes.");
        return buckets;
    }

    protected override void ForwardFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* output, int stride)
    {
        var hashes = _hashes[feature];
        fixed (long* ids = input.Ids)
        fixed (int* offsets = input.Offsets)
        fixed (float* weights = input.Weights)
        {
            for (int j = 0; j < hashes.Length; j++)
            {
                var job = Job(_matrix, ids, input.Ids.Length, offsets, input.BagCount, input.HasWeights ? weights : null, pooling,
                              output + j * _matrix.Dim, stride, overwrite: true);
                GatherPoolKernel.Run(ref job, hashes[j], Threads);
            }
        }
    }

    protected override void AccumulateFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* gradOutput, int stride)
    {
        var hashes = _hashes[feature];
        for (int j = 0; j < hashes.Length; j++)
            AccumulateGather(hashes[j], input, pooling, gradOutput, stride, j * _matrix.Dim, _matrix.Dim, _grads);
    }

    protected override void ApplyAccumulated() => _grads.ApplyTo(_matrix, Threads);
    protected override void DiscardAccumulated() => _grads.Clear();

    public override void Dispose()
    {
        _grads.Dispose();
        base.Dispose();
    }
}
