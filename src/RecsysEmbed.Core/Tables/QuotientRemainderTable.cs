using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Kernels;
using RecsysEmbed.Core.Optimizers;

namespace RecsysEmbed.Core.Tables;

public enum QrCombine
{
    /// <summary>Partition vectors are added (width Dim).</summary>
    Add,
    /// <summary>Partition vectors are multiplied element-wise (width Dim).</summary>
    Multiply,
    /// <summary>Partition vectors are concatenated (width k * Dim).</summary>
    Concat,
}

/// <summary>
/// Compositional embeddings from complementary partitions (Shi et al., 2020). With radices m_1..m_k whose product is
/// at least the cardinality n, id v &lt; n is written in mixed radix, digit j = (v / (m_1 ... m_{j-1})) mod m_j, and
/// digit j selects a row of partition matrix j (m_j x Dim). Distinct ids &lt; n have distinct digit tuples, so no two
/// share all their rows. The classic quotient-remainder trick for c collisions is k = 2 with m = ceil(n / c) and
/// radices [m, c]:
/// <code>
///   v -> remainder v mod m  -> R[v mod m]      (m = ceil(n/c) rows: each shared by c ids)
///     -> quotient  v / m    -> Q[v / m]        (c rows)                 embedding = R[..] + Q[..]  (or *, or ++)
/// </code>
/// The large table takes the remainder, as in the paper: ids 0 .. m-1 all get their own remainder row. Vocabularies
/// number ids in order of first appearance, which is roughly by frequency, so the frequent ids stay apart; splitting
/// the other way (v mod c, v / c) would make every run of c consecutive ids, the most frequent among them, share
/// their large-table row.
/// Ids &gt;= n (open vocabularies) are first hashed into [0, n).
/// </summary>
public sealed unsafe class QuotientRemainderTable : EmbeddingTableBase
{
    private readonly EmbeddingMatrix[] _partitions;
    private readonly RowGradientAccumulator[] _grads;
    private readonly RadixDigitMap[] _digits;
    private readonly float[] _product;
    private readonly float[] _partial;

    public QuotientRemainderTable(string name, IReadOnlyList<TableFeature> features, long cardinality, int dim, IReadOnlyList<long> radices,
                                  QrCombine combine, SparseOptimizerSettings optimizer, ulong seed = 1, TableInit? init = null)
        : base(name, features.Select(f => (f.Name, f.Pooling, combine == QrCombine.Concat ? radices.Count * dim : dim)).ToArray())
    {
        ValidateRadices(name, cardinality, radices);
        Cardinality = cardinality;
        Combine = combine;
        Radices = radices.ToArray();
        _partitions = new EmbeddingMatrix[radices.Count];
        _grads = new RowGradientAccumulator[radices.Count];
        _digits = new RadixDigitMap[radices.Count];
        ulong overflowSeed = BucketHash.DeriveSeed(seed, 1000);
        long divisor = 1;
        // Multiplied partitions after the first start at exactly 1 (init applies to the first only), so every id starts
        // as its remainder row: the table starts as the hashing trick on the large partition and learns what tells the
        // ids that share it apart. Rows near 1, 1 + uniform(+-sqrt(1/rows)), scored 0.0006 AUC lower at 1/16 under the
        // suite's cap policy over 3 seeds (benchmarks/RESULTS.md, "Quality per family and budget", Session 6).
        var effectiveInit = init ?? TableInit.Default;
        for (int j = 0; j < radices.Count; j++)
        {
            _partitions[j] = new EmbeddingMatrix($"{name}.p{j}", radices[j], dim, optimizer);
            if (combine == QrCombine.Multiply && j > 0) FillWithOnes(_partitions[j]);
            else effectiveInit.Apply(_partitions[j], j);
            _grads[j] = new RowGradientAccumulator(dim);
            _digits[j] = new RadixDigitMap(cardinality, divisor, radices[j], overflowSeed);
            divisor = radices[j] > 0 && divisor > long.MaxValue / radices[j] ? long.MaxValue : divisor * radices[j];
        }
        _product = new float[dim];
        _partial = new float[dim];
    }

    /// <summary>The classic two-way split for c collisions per remainder row: [ceil(n / c), c] (remainder first).</summary>
    public static long[] QuotientRemainderRadices(long cardinality, long collisions)
    {
        if (collisions < 2) ThrowHelper.OutOfRange(nameof(collisions), collisions, "QR needs collisions >= 2 (1 would be a full table).");
        if (cardinality < 1) ThrowHelper.OutOfRange(nameof(cardinality), cardinality, "cardinality must be >= 1.");
        return [(cardinality + collisions - 1) / collisions, collisions];
    }

    /// <summary>k balanced radices, each about n^(1/k), whose product is at least n.</summary>
    public static long[] BalancedRadices(long cardinality, int partitions)
    {
        if (partitions < 2) ThrowHelper.OutOfRange(nameof(partitions), partitions, "a compositional table needs at least 2 partitions.");
        var radices = new long[partitions];
        long remaining = cardinality;
        for (int j = 0; j < partitions; j++)
        {
            // Smallest r with r^(k-j) >= remaining keeps the remaining radices balanced.
            long r = Math.Max(2, (long)Math.Ceiling(Math.Pow(remaining, 1.0 / (partitions - j)) - 1e-9));
            while (Math.Pow(r, partitions - j) < remaining) r++;
            radices[j] = r;
            remaining = (remaining + r - 1) / r;
        }
        return radices;
    }

    private static void ValidateRadices(string name, long cardinality, IReadOnlyList<long> radices)
    {
        if (cardinality < 1) ThrowHelper.OutOfRange(nameof(cardinality), cardinality, $"table '{name}': cardinality must be >= 1.");
        if (radices.Count < 2) ThrowHelper.Argument(nameof(radices), $"table '{name}': a compositional table needs at least 2 partitions, got {radices.Count}.");
        double product = 1;
        for (int j = 0; j < radices.Count; j++)
        {
            if (radices[j] < 1) ThrowHelper.OutOfRange(nameof(radices), radices[j], $"table '{name}': radix {j} must be >= 1.");
            product *= radices[j];
        }
        if (product < cardinality)
            ThrowHelper.Argument(nameof(radices), $"table '{name}': the radices' product {product} is below the cardinality {cardinality}, so distinct ids would share all rows.");
    }

    private static void FillWithOnes(EmbeddingMatrix m)
    {
        for (long r = 0; r < m.Rows; r++) m.Row(r).Fill(1f);
    }

    public override string Family => "qr";
    public long Cardinality { get; }
    public QrCombine Combine { get; }
    public IReadOnlyList<long> Radices { get; }
    public int Dim => _partitions[0].Dim;
    public override IReadOnlyList<EmbeddingMatrix> Matrices => _partitions;

    /// <summary>Row of partition j used by id.</summary>
    public long RowOf(long id, int partition) => _digits[partition].Map(id);

    protected override void ForwardFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* output, int stride)
    {
        if (Combine == QrCombine.Multiply)
        {
            ForwardMultiply(input, pooling, output, stride);
            return;
        }
        fixed (long* ids = input.Ids)
        fixed (int* offsets = input.Offsets)
        fixed (float* weights = input.Weights)
        {
            for (int j = 0; j < _partitions.Length; j++)
            {
                int column = Combine == QrCombine.Concat ? j * Dim : 0;
                bool overwrite = Combine == QrCombine.Concat || j == 0;
                var job = Job(_partitions[j], ids, input.Ids.Length, offsets, input.BagCount, input.HasWeights ? weights : null, pooling, output + column, stride, overwrite);
                GatherPoolKernel.Run(ref job, _digits[j], Threads);
            }
        }
    }

    private void ForwardMultiply(in JaggedFeature input, PoolingMode pooling, float* output, int stride)
    {
        int dim = Dim;
        fixed (float* product = _product)
        {
            for (int b = 0; b < input.BagCount; b++)
            {
                int start = input.BagStart(b), end = start + input.BagLength(b);
                float* dst = output + (long)b * stride;
                new Span<float>(dst, dim).Clear();
                for (int i = start; i < end; i++)
                {
                    ProductOfPartitions(input.Ids[i], skip: -1, product);
                    AxpyKernel.Axpy(Scale(input, pooling, i, start, end), product, dst, dim);
                }
            }
        }
    }

    // product = element-wise product of the id's partition rows, leaving out partition `skip` (-1: none).
    private void ProductOfPartitions(long id, int skip, float* product)
    {
        int dim = Dim;
        var p = new Span<float>(product, dim);
        p.Fill(1f);
        for (int j = 0; j < _partitions.Length; j++)
        {
            if (j == skip) continue;
            var row = new ReadOnlySpan<float>(_partitions[j].WeightsPointer + _digits[j].Map(id) * dim, dim);
            System.Numerics.Tensors.TensorPrimitives.Multiply(p, row, p);
        }
    }

    protected override void AccumulateFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* gradOutput, int stride)
    {
        if (Combine != QrCombine.Multiply)
        {
            for (int j = 0; j < _partitions.Length; j++)
            {
                int column = Combine == QrCombine.Concat ? j * Dim : 0;
                AccumulateGather(_digits[j], input, pooling, gradOutput, stride, column, Dim, _grads[j]);
            }
            return;
        }
        // d(prod_l e_l)/d e_j = prod_{l != j} e_l, element-wise.
        int dim = Dim;
        fixed (float* others = _product)
        fixed (float* partial = _partial)
        {
            for (int b = 0; b < input.BagCount; b++)
            {
                int start = input.BagStart(b), end = start + input.BagLength(b);
                var g = new ReadOnlySpan<float>(gradOutput + (long)b * stride, dim);
                for (int i = start; i < end; i++)
                {
                    float s = Scale(input, pooling, i, start, end);
                    long id = input.Ids[i];
                    for (int j = 0; j < _partitions.Length; j++)
                    {
                        ProductOfPartitions(id, skip: j, others);
                        System.Numerics.Tensors.TensorPrimitives.Multiply(g, new ReadOnlySpan<float>(others, dim), new Span<float>(partial, dim));
                        AxpyKernel.Axpy(s, partial, _grads[j].Slot(_digits[j].Map(id)), dim);
                    }
                }
            }
        }
    }

    protected override void ApplyAccumulated()
    {
        for (int j = 0; j < _partitions.Length; j++) _grads[j].ApplyTo(_partitions[j], Threads);
    }

    protected override void DiscardAccumulated()
    {
        foreach (var g in _grads) g.Clear();
    }

    public override void Dispose()
    {
        foreach (var g in _grads) g.Dispose();
        base.Dispose();
    }
}
