using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Kernels;
using RecsysEmbed.Core.Optimizers;

namespace RecsysEmbed.Core.Tables;

/// <summary>
/// TT-Rec (Yin et al., 2021): the n x d table is a tensor train of three cores. The cardinality is split into
/// n1 * n2 * n3 &gt;= n and the width into d = d1 * d2 * d3; id v has digits (i1, i2, i3) in mixed radix (as QR), and
/// <code>
///   e(v)[j1, j2, j3] = sum_{a, b} G1[i1][j1, b] * G2[i2][b, j2, a] * G3[i3][a, j3]        (j = (j1 d2 + j2) d3 + j3)
///
///   core 1   n1 rows of d1 x r1        row i1 = [ j1 = 0: b = 0 .. r1-1 ][ j1 = 1 ] ...
///   core 2   n2 rows of r1 x d2 x r2   row i2 = [ b = 0: (j2 = 0: a = 0 .. r2-1)(j2 = 1) ... ][ b = 1 ] ...
///   core 3   n3 rows of r2 x d3        row i3 = [ a = 0: j3 = 0 .. d3-1 ][ a = 1 ] ...
/// </code>
/// Each core is an <see cref="EmbeddingMatrix"/> whose rows are the core slices, so the fused sparse optimizers
/// update exactly the slices a batch touched, once each. Ids &gt;= n are hashed into [0, n) first.
/// Memory is (n1 d1 r1 + n2 r1 d2 r2 + n3 r2 d3) floats: about 3 n^(1/3) d r^2 / 3 instead of n d.
/// </summary>
public sealed unsafe class TensorTrainTable : EmbeddingTableBase
{
    private readonly EmbeddingMatrix[] _cores;
    private readonly RowGradientAccumulator[] _grads;
    private readonly RadixDigitMap[] _digits;
    private readonly int _d1, _d2, _d3, _r1, _r2;
    // Per-id scratch: T = G1 x G2 (d1 d2 x r2), its gradient, and one id's output or output gradient.
    private readonly float[] _t, _dt, _e;

    public TensorTrainTable(string name, IReadOnlyList<TableFeature> features, long cardinality, int dim, int rank,
                            SparseOptimizerSettings optimizer, ulong seed = 1, TableInit? init = null, IReadOnlyList<long>? rowFactors = null)
        : base(name, features.Select(f => (f.Name, f.Pooling, dim)).ToArray())
    {
        if (cardinality < 1) ThrowHelper.OutOfRange(nameof(cardinality), cardinality, $"table '{name}': cardinality must be >= 1.");
        if (rank < 1) ThrowHelper.OutOfRange(nameof(rank), rank, $"table '{name}': the tensor-train rank must be >= 1.");
        var n = rowFactors?.ToArray() ?? QuotientRemainderTable.BalancedRadices(Math.Max(cardinality, 8), 3);
        if (n.Length != 3 || n.Any(x => x < 1) || (double)n[0] * n[1] * n[2] < cardinality)
            ThrowHelper.Argument(nameof(rowFactors), $"table '{name}': need 3 row factors >= 1 whose product is >= the cardinality {cardinality}, got [{string.Join(", ", n)}].");
        (_d1, _d2, _d3) = DimFactors(dim);
        _r1 = _r2 = rank;
        Cardinality = cardinality;
        Rank = rank;
        RowFactors = n;
        _cores =
        [
            new EmbeddingMatrix($"{name}.g0", n[0], _d1 * _r1, optimizer),
            new EmbeddingMatrix($"{name}.g1", n[1], _r1 * _d2 * _r2, optimizer),
            new EmbeddingMatrix($"{name}.g2", n[2], _r2 * _d3, optimizer),
        ];
        ulong overflowSeed = BucketHash.DeriveSeed(seed, 1000);
        _digits = [new(cardinality, 1, n[0], overflowSeed), new(cardinality, n[0], n[1], overflowSeed), new(cardinality, n[0] * n[1], n[2], overflowSeed)];
        _grads = _cores.Select(c => new RowGradientAccumulator(c.Dim)).ToArray();
        var effective = init ?? TableInit.Default;
        // Each output is a sum of r1 r2 products of three core entries: with every core uniform(-c, c) its variance
        // is r1 r2 (c^2/3)^3; c is picked so that it matches a full table's uniform(-bound, bound).
        double bound = effective.UniformBound ?? Math.Sqrt(1.0 / cardinality);
        double perCoreVariance = Math.Pow(bound * bound / 3 / (_r1 * (double)_r2), 1.0 / 3);
        float coreBound = (float)Math.Sqrt(3 * perCoreVariance);
        for (int k = 0; k < 3; k++) _cores[k].InitUniform(coreBound, BucketHash.DeriveSeed(effective.Seed, k));
        _t = new float[_d1 * _d2 * _r2];
        _dt = new float[_d1 * _d2 * _r2];
        _e = new float[dim];
    }

    /// <summary>d = d1 d2 d3 with the factors as even as the divisors of d allow (16 = 2 x 2 x 4; a prime d = 1 x 1 x d).</summary>
    public static (int D1, int D2, int D3) DimFactors(int dim)
    {
        if (dim < 1) ThrowHelper.OutOfRange(nameof(dim), dim, "dim must be >= 1.");
        (int, int, int) best = (1, 1, dim);
        int bestMax = dim;
        for (int a = 1; a <= dim; a++)
        {
            if (dim % a != 0) continue;
            for (int b = a; b <= dim / a; b++)
            {
                if (dim / a % b != 0) continue;
                int c = dim / a / b;
                if (c < b) continue;
                if (c < bestMax) { bestMax = c; best = (a, b, c); }
            }
        }
        return best;
    }

    /// <summary>Weight floats of a TT table of this shape (planners size the rank with it).</summary>
    public static long WeightCountOf(long cardinality, int dim, int rank)
    {
        var n = QuotientRemainderTable.BalancedRadices(Math.Max(cardinality, 8), 3);
        var (d1, d2, d3) = DimFactors(dim);
        return n[0] * d1 * rank + n[1] * (long)rank * d2 * rank + n[2] * (long)rank * d3;
    }

    public override string Family => "tt";
    public long Cardinality { get; }
    public int Rank { get; }
    public IReadOnlyList<long> RowFactors { get; }
    public (int D1, int D2, int D3) Factors => (_d1, _d2, _d3);
    public override IReadOnlyList<EmbeddingMatrix> Matrices => _cores;

    /// <summary>Row of core k used by id.</summary>
    public long RowOf(long id, int core) => _digits[core].Map(id);

    /// <summary>The three cores and their digit maps as plain pointers and values, for kernels on any thread.</summary>
    private struct Cores
    {
        public float* G1, G2, G3;
        public int Dim1, Dim2, Dim3;
        public RadixDigitMap Digit1, Digit2, Digit3;
        public int D1, D2, D3, R1, R2;

        // e = G1[i1] x G2[i2] x G3[i3], with t (d1 d2 r2 floats) as scratch; t keeps T = G1 x G2 for the backward.
        public readonly void Embed(long id, float* e, float* t)
        {
            float* g1 = G1 + Digit1.Map(id) * Dim1;
            float* g2 = G2 + Digit2.Map(id) * Dim2;
            float* g3 = G3 + Digit3.Map(id) * Dim3;
            int d1 = D1, d2 = D2, d3 = D3, r1 = R1, r2 = R2;
            // T[(j1 d2 + j2), a] = sum_b G1[j1, b] G2[b, j2, a]
            new Span<float>(t, d1 * d2 * r2).Clear();
            for (int j1 = 0; j1 < d1; j1++)
                for (int bb = 0; bb < r1; bb++)
                {
                    float w = g1[j1 * r1 + bb];
                    for (int j2 = 0; j2 < d2; j2++)
                        AxpyKernel.Axpy(w, g2 + (bb * d2 + j2) * r2, t + (j1 * d2 + j2) * r2, r2);
                }
            // e[(j12) d3 + j3] = sum_a T[j12, a] G3[a, j3]
            for (int j12 = 0; j12 < d1 * d2; j12++)
            {
                float* out3 = e + j12 * d3;
                new Span<float>(out3, d3).Clear();
                for (int a = 0; a < r2; a++) AxpyKernel.Axpy(t[j12 * r2 + a], g3 + a * d3, out3, d3);
            }
        }
    }

    private Cores CoreView => new()
    {
        G1 = _cores[0].WeightsPointer, G2 = _cores[1].WeightsPointer, G3 = _cores[2].WeightsPointer,
        Dim1 = _cores[0].Dim, Dim2 = _cores[1].Dim, Dim3 = _cores[2].Dim,
        Digit1 = _digits[0], Digit2 = _digits[1], Digit3 = _digits[2],
        D1 = _d1, D2 = _d2, D3 = _d3, R1 = _r1, R2 = _r2,
    };

    /// <summary>Contracts the id's three core slices into scratch (e, then T) and adds e.</summary>
    private readonly struct ForwardKernel(Cores cores) : IBagKernel
    {
        public int OutputDim => cores.D1 * cores.D2 * cores.D3;
        public int ScratchFloats => OutputDim + cores.D1 * cores.D2 * cores.R2;

        public void Add(long id, float scale, float* dst, float* scratch)
        {
            int dim = OutputDim;
            cores.Embed(id, scratch, scratch + dim);
            AxpyKernel.Axpy(scale, scratch, dst, dim);
        }
    }

    protected override void ForwardFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* output, int stride) =>
        ForwardBags(new ForwardKernel(CoreView), input, pooling, output, stride);

    protected override void AccumulateFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* gradOutput, int stride)
    {
        int d1 = _d1, d2 = _d2, d3 = _d3, r1 = _r1, r2 = _r2;
        var cores = CoreView; // once per feature, not per id
        fixed (float* e = _e)
        fixed (float* t = _t)
        fixed (float* dt = _dt)
        {
            for (int b = 0; b < input.BagCount; b++)
            {
                int start = input.BagStart(b), end = start + input.BagLength(b);
                float* g = gradOutput + (long)b * stride;
                for (int i = start; i < end; i++)
                {
                    long id = input.Ids[i];
                    float s = Scale(input, pooling, i, start, end);
                    cores.Embed(id, e, t); // fills T
                    long i1 = _digits[0].Map(id), i2 = _digits[1].Map(id), i3 = _digits[2].Map(id);
                    float* g1 = _cores[0].WeightsPointer + i1 * _cores[0].Dim;
                    float* g2 = _cores[1].WeightsPointer + i2 * _cores[1].Dim;
                    float* g3 = _cores[2].WeightsPointer + i3 * _cores[2].Dim;
                    float* dg1 = _grads[0].Slot(i1);
                    float* dg2 = _grads[1].Slot(i2);
                    float* dg3 = _grads[2].Slot(i3);
                    // dG3[a, j3] += s sum_j12 T[j12, a] g[j12, j3];  dT[j12, a] = s sum_j3 g[j12, j3] G3[a, j3]
                    for (int j12 = 0; j12 < d1 * d2; j12++)
                    {
                        float* gj = g + j12 * d3;
                        for (int a = 0; a < r2; a++)
                        {
                            AxpyKernel.Axpy(s * t[j12 * r2 + a], gj, dg3 + a * d3, d3);
                            float acc = 0;
                            for (int j3 = 0; j3 < d3; j3++) acc += gj[j3] * g3[a * d3 + j3];
                            dt[j12 * r2 + a] = s * acc;
                        }
                    }
                    // dG2[b, j2, a] += sum_j1 G1[j1, b] dT[j1 d2 + j2, a];  dG1[j1, b] += sum_{j2, a} dT[j1 d2 + j2, a] G2[b, j2, a]
                    for (int j1 = 0; j1 < d1; j1++)
                        for (int bb = 0; bb < r1; bb++)
                        {
                            float w = g1[j1 * r1 + bb];
                            float acc = 0;
                            for (int j2 = 0; j2 < d2; j2++)
                            {
                                float* dtRow = dt + (j1 * d2 + j2) * r2;
                                float* g2Row = g2 + (bb * d2 + j2) * r2;
                                AxpyKernel.Axpy(w, dtRow, dg2 + (bb * d2 + j2) * r2, r2);
                                for (int a = 0; a < r2; a++) acc += dtRow[a] * g2Row[a];
                            }
                            dg1[j1 * r1 + bb] += acc;
                        }
                }
            }
        }
    }

    protected override void ApplyAccumulated()
    {
        for (int k = 0; k < 3; k++) _grads[k].ApplyTo(_cores[k], Threads);
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
