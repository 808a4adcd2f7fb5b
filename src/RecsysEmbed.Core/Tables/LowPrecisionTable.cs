using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Kernels;
using RecsysEmbed.Core.Optimizers;

namespace RecsysEmbed.Core.Tables;

/// <summary>How a <see cref="LowPrecisionTable"/> stores its rows.</summary>
public enum RowPrecision
{
    /// <summary>IEEE half floats: 2 bytes per weight.</summary>
    Fp16,
    /// <summary>Signed bytes in [-127, 127] times a per-row fp32 scale: 1 byte per weight + 4 per row.</summary>
    Int8,
}

/// <summary>
/// Low-precision training (as in the 2024 compression study's "LPT"): rows live in fp16 or int8 during training,
/// not only at export. Forward dequantizes the rows it gathers; backward sums the row gradients in fp32 (each
/// touched row once), applies the table's optimizer to the dequantized row in fp32, and writes the row back with
/// <b>stochastic rounding</b>: x goes to the neighbour above with probability (x - below) / (above - below), so
/// E[stored] = x and small updates survive on average instead of rounding away. Optimizer state stays fp32.
/// <code>
///   fp16   rows  [ row 0: h_0 .. h_{Dim-1} ][ row 1 ] ...                      Rows * Dim halves
///   int8   rows  [ row 0: q_0 .. q_{Dim-1} ][ row 1 ] ...   w = scale_r * q     Rows * Dim bytes
///          scale [ s_0 ][ s_1 ] ...                        s_r = max|w_r| / 127 Rows floats
///   state  [ row 0: StateWidth floats ] ...                                      fp32, as EmbeddingMatrix
/// </code>
/// Ids: with Rows = the cardinality, id v uses row v (ids must be in [0, Rows)); built with <c>hashed: true</c>, any
/// non-negative id uses row hash(v) mod Rows (low precision on top of the hashing trick, for budgets below int8).
/// The rounding of a row's update is seeded by (seed, step, row), so training does not depend on the thread count.
/// <see cref="IEmbeddingTable.Matrices"/> is empty: the rows are not fp32 matrices. Checkpoints store the three
/// buffers as they are (<see cref="StoredRows"/>, <see cref="RowScales"/>, <see cref="StateRows"/>) with
/// <see cref="StepCount"/>, so a resumed run rounds exactly as an uninterrupted one.
/// </summary>
public sealed unsafe class LowPrecisionTable : EmbeddingTableBase
{
    private readonly RowGradientAccumulator _grads;
    private readonly LowPrecisionRowMap _map;
    private byte* _rows;
    private float* _scales;
    private float* _state;
    private readonly float[] _row;

    public LowPrecisionTable(string name, IReadOnlyList<TableFeature> features, long rows, int dim, RowPrecision precision,
                             SparseOptimizerSettings optimizer, bool hashed = false, ulong seed = 1, TableInit? init = null)
        : base(name, features.Select(f => (f.Name, f.Pooling, dim)).ToArray())
    {
        if (rows <= 0) ThrowHelper.OutOfRange(nameof(rows), rows, $"table '{name}' needs at least one row.");
        if (dim <= 0) ThrowHelper.OutOfRange(nameof(dim), dim, $"table '{name}' needs dim > 0.");
        if (precision is not (RowPrecision.Fp16 or RowPrecision.Int8)) ThrowHelper.OutOfRange(nameof(precision), precision, "expected fp16 or int8.");
        ArgumentNullException.ThrowIfNull(optimizer);
        optimizer.Validate();
        Rows = rows;
        Dim = dim;
        Precision = precision;
        Optimizer = optimizer;
        Hashed = hashed;
        Seed = seed;
        StateWidth = optimizer.StateWidth(dim);
        _map = new LowPrecisionRowMap(rows, BucketHash.DeriveSeed(seed, 0), hashed);
        _rows = (byte*)NativeMemory.AlignedAlloc((nuint)(rows * StoredRowBytes), 64);
        _scales = precision == RowPrecision.Int8 ? (float*)NativeMemory.AlignedAlloc((nuint)(rows * sizeof(float)), 64) : null;
        if (StateWidth > 0)
        {
            _state = (float*)NativeMemory.AlignedAlloc((nuint)(rows * StateWidth * sizeof(float)), 64);
            float start = optimizer.Kind is SparseOptimizerKind.Adagrad or SparseOptimizerKind.RowWiseAdagrad ? optimizer.InitialAccumulator : 0f;
            new Span<float>(_state, checked((int)(rows * StateWidth))).Fill(start);
        }
        _grads = new RowGradientAccumulator(dim);
        _row = new float[dim];
        Initialize(init ?? TableInit.Default);
    }

    public override string Family => "lp";
    public long Rows { get; }
    public int Dim { get; }
    public RowPrecision Precision { get; }
    public SparseOptimizerSettings Optimizer { get; }
    public bool Hashed { get; }
    /// <summary>Seeds the hashed row map and the stochastic rounding.</summary>
    public ulong Seed { get; }
    public int StateWidth { get; }
    /// <summary>Optimizer steps applied so far (Adam's t; also seeds the rounding).</summary>
    public long StepCount { get; private set; }
    public override IReadOnlyList<EmbeddingMatrix> Matrices => [];

    /// <summary>Stored bytes of one row: Dim halves, or Dim bytes (the int8 scale is counted per row apart).</summary>
    public int StoredRowBytes => Precision == RowPrecision.Fp16 ? Dim * sizeof(ushort) : Dim;

    /// <summary>Bytes of weights for a table of this shape (rows, scales), for planners.</summary>
    public static long WeightBytesOf(long rows, int dim, RowPrecision precision) =>
        precision == RowPrecision.Fp16 ? rows * dim * 2L : rows * (dim + (long)sizeof(float));

    public override TableMemory Memory =>
        new(Rows * Dim, WeightBytesOf(Rows, Dim, Precision), Rows * StateWidth, Rows * StateWidth * (long)sizeof(float));

    /// <summary>Row used by an id.</summary>
    public long RowOf(long id) => _map.Map(id);

    /// <summary>The dequantized weights of a row (tests, export).</summary>
    public float[] DequantizedRow(long row)
    {
        CheckRow(row);
        var result = new float[Dim];
        fixed (float* r = result) Dequantize(row, r);
        return result;
    }

    /// <summary>All weights dequantized, row-major (tests).</summary>
    public float[] CopyWeights()
    {
        var all = new float[checked(Rows * Dim)];
        fixed (float* a = all)
            for (long r = 0; r < Rows; r++) Dequantize(r, a + r * Dim);
        return all;
    }

    /// <summary>Stores a row, rounded to the nearest representable values (tests, checkpoint import).</summary>
    public void SetRow(long row, ReadOnlySpan<float> values)
    {
        CheckRow(row);
        if (values.Length != Dim) ThrowHelper.TooShort(nameof(values), Dim, values.Length);
        values.CopyTo(_row);
        fixed (float* v = _row) Quantize(row, v, rng: null);
    }

    /// <summary>The fp32 optimizer state of a row.</summary>
    public Span<float> StateRow(long row)
    {
        CheckRow(row);
        return new Span<float>(_state + row * StateWidth, StateWidth);
    }

    // ---- raw storage, for checkpoints ----
    // Views of native memory, count rows at a time: callers stream a table of any size through chunks of their
    // choosing, and a restore writes the exact stored bits back (no re-rounding, so training resumes bit for bit).

    /// <summary>
    /// The stored bytes of rows [firstRow, firstRow + count): fp16 halves or int8 codes, StoredRowBytes per row.
    /// Writing through the span changes the weights (int8 rows also need their <see cref="RowScales"/>).
    /// </summary>
    public Span<byte> StoredRows(long firstRow, int count)
    {
        CheckRange(firstRow, count);
        return new Span<byte>(_rows + firstRow * StoredRowBytes, checked(count * StoredRowBytes));
    }

    /// <summary>The fp32 scales of int8 rows [firstRow, firstRow + count); fp16 tables have none.</summary>
    public Span<float> RowScales(long firstRow, int count)
    {
        if (Precision != RowPrecision.Int8) throw new InvalidOperationException($"table '{Name}' stores {Precision} rows, which have no scales.");
        CheckRange(firstRow, count);
        return new Span<float>(_scales + firstRow, count);
    }

    /// <summary>The fp32 optimizer state of rows [firstRow, firstRow + count), StateWidth floats per row.</summary>
    public Span<float> StateRows(long firstRow, int count)
    {
        CheckRange(firstRow, count);
        return new Span<float>(_state + firstRow * StateWidth, checked(count * StateWidth));
    }

    /// <summary>Restores optimizer bookkeeping (checkpoints): Adam's t and the rounding seed of the next step.</summary>
    public void SetStepCount(long step)
    {
        if (step < 0) ThrowHelper.OutOfRange(nameof(step), step, "step count must be >= 0.");
        StepCount = step;
    }

    // ---- rounding ----

    /// <summary>
    /// x rounded to one of the two halves around it: up with probability (x - below) / (above - below), given a
    /// uniform u in [0, 1). Exactly representable values are kept; the result is unbiased for uniform u.
    /// </summary>
    public static Half StochasticHalf(float x, double u)
    {
        var nearest = (Half)x;
        float n = (float)nearest;
        if (n == x || !float.IsFinite(n)) return nearest;
        Half below = n < x ? nearest : Half.BitDecrement(nearest);
        Half above = n < x ? Half.BitIncrement(nearest) : nearest;
        double lo = (double)(float)below, hi = (double)(float)above;
        if (!double.IsFinite(hi)) return below;
        return u < (x - lo) / (hi - lo) ? above : below;
    }

    /// <summary>floor(x + u) for uniform u in [0, 1): up with probability frac(x), so E[result] = x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int StochasticInt(float x, double u) => (int)Math.Floor(x + u);

    // ---- kernels ----

    /// <summary>
    /// The stored rows as the kernels see them: plain pointers and sizes, so worker threads get it by pointer
    /// (<see cref="KernelThreads"/>). Rebuilt on each call, since a restore may replace the buffers.
    /// </summary>
    private readonly struct Storage(byte* rows, float* scales, int dim, int storedRowBytes, bool fp16)
    {
        public readonly int Dim = dim;

        public void Dequantize(long row, float* dst)
        {
            if (fp16)
            {
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(rows + row * storedRowBytes, Dim), new Span<float>(dst, Dim));
                return;
            }
            sbyte* q = (sbyte*)(rows + row * storedRowBytes);
            float s = scales[row];
            for (int d = 0; d < Dim; d++) dst[d] = s * q[d];
        }

        // Writes a fp32 row into storage: stochastic rounding when rng is given, nearest otherwise.
        public void Quantize(long row, float* src, SplitMix64* rng)
        {
            if (fp16)
            {
                Half* h = (Half*)(rows + row * storedRowBytes);
                for (int d = 0; d < Dim; d++) h[d] = rng is null ? (Half)src[d] : StochasticHalf(src[d], rng->NextDouble());
                return;
            }
            float max = System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(new ReadOnlySpan<float>(src, Dim));
            max = Math.Abs(max);
            float scale = max > 0 && float.IsFinite(max) ? max / 127f : 0f;
            scales[row] = scale;
            sbyte* q = (sbyte*)(rows + row * storedRowBytes);
            float inv = scale > 0 ? 1f / scale : 0f;
            for (int d = 0; d < Dim; d++)
            {
                float x = src[d] * inv;
                int v = rng is null ? (int)MathF.Round(x) : StochasticInt(x, rng->NextDouble());
                q[d] = (sbyte)Math.Clamp(v, -127, 127);
            }
        }
    }

    private Storage Stored => new(_rows, _scales, Dim, StoredRowBytes, Precision == RowPrecision.Fp16);

    private void Dequantize(long row, float* dst) => Stored.Dequantize(row, dst);

    private void Quantize(long row, float* src, SplitMix64* rng) => Stored.Quantize(row, src, rng);

    private void Initialize(TableInit init)
    {
        float bound = init.UniformBound ?? (float)Math.Sqrt(1.0 / Rows);
        var rng = new SplitMix64(BucketHash.DeriveSeed(init.Seed, 0));
        fixed (float* r = _row)
        {
            for (long row = 0; row < Rows; row++)
            {
                for (int d = 0; d < Dim; d++) r[d] = (float)((rng.NextDouble() * 2 - 1) * bound);
                Quantize(row, r, null);
            }
        }
    }

    protected override void ValidateIds(int feature, ReadOnlySpan<long> ids)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            if (Hashed)
            {
                if (ids[i] < 0) ThrowHelper.NegativeId("ids", ids[i], i);
            }
            else if ((ulong)ids[i] >= (ulong)Rows)
            {
                ThrowHelper.IdOutOfRange("ids", ids[i], Rows, i);
            }
        }
    }

    // Below this many rows one thread is faster than waking the others; rows up to this wide use a scratch row on
    // each thread's stack.
    private const int ParallelRows = 1024, StackDim = 1024;

    /// <summary>Dequantizes the id's row into scratch and adds it.</summary>
    private readonly struct ForwardKernel(Storage store, LowPrecisionRowMap map) : IBagKernel
    {
        public int OutputDim => store.Dim;
        public int ScratchFloats => store.Dim;

        public void Add(long id, float scale, float* dst, float* scratch)
        {
            store.Dequantize(map.Map(id), scratch);
            AxpyKernel.Axpy(scale, scratch, dst, store.Dim);
        }
    }

    protected override void ForwardFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* output, int stride) =>
        ForwardBags(new ForwardKernel(Stored, _map), input, pooling, output, stride);

    protected override void AccumulateFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* gradOutput, int stride) =>
        AccumulateGather(_map, input, pooling, gradOutput, stride, 0, Dim, _grads);

    private struct ApplyContext
    {
        public Storage Store;
        public float* State;
        public int StateWidth;
        public SparseOptimizerKind Kind;
        public StepScalars Scalars;
        public ulong StepSeed;
        public RowGradientAccumulator.Partition* Partitions;
        public int PartitionCount;
    }

    /// <summary>
    /// Accumulator partitions split across threads (each row belongs to one partition, so no row is shared); a row's
    /// rounding is seeded by (seed, step, row), so the result does not depend on the thread count.
    /// </summary>
    protected override void ApplyAccumulated()
    {
        if (_grads.Count == 0) return;
        StepCount++;
        var ctx = new ApplyContext
        {
            Store = Stored, State = _state, StateWidth = StateWidth, Kind = Optimizer.Kind, Scalars = new StepScalars(Optimizer, StepCount),
            StepSeed = BucketHash.DeriveSeed(Seed ^ 0xA5A5_5A5A_C3C3_3C3Cul, (int)(StepCount & int.MaxValue)),
            Partitions = _grads.Partitions, PartitionCount = _grads.PartitionCount,
        };
        int parts = Threads > 1 && _grads.Count >= ParallelRows && Dim <= StackDim ? Math.Min(Threads, _grads.PartitionCount) : 1;
        if (parts == 1) ApplyPart(&ctx, 0, 1);
        else KernelThreads.Shared.Run(parts, &ApplyPart, &ctx);
        _grads.Clear();
    }

    private static void ApplyPart(void* state, int part, int parts)
    {
        var ctx = (ApplyContext*)state;
        int dim = ctx->Store.Dim;
        Span<float> scratch = dim <= StackDim ? stackalloc float[dim] : new float[dim];
        fixed (float* w = scratch)
        {
            // KernelThreads may run fewer parts than asked (a busy pool runs them inline): cover every partition.
            for (int p = part; p < ctx->PartitionCount; p += parts)
            {
                ref var partition = ref ctx->Partitions[p];
                for (int i = 0; i < partition.Count; i++)
                {
                    long r = partition.Rows[i];
                    float* g = partition.Grads + (long)i * dim;
                    ctx->Store.Dequantize(r, w);
                    float* rowState = ctx->State + r * ctx->StateWidth;
                    switch (ctx->Kind)
                    {
                        case SparseOptimizerKind.Sgd: SgdUpdate.Apply(w, rowState, g, dim, ctx->Scalars); break;
                        case SparseOptimizerKind.Adagrad: AdagradUpdate.Apply(w, rowState, g, dim, ctx->Scalars); break;
                        case SparseOptimizerKind.RowWiseAdagrad: RowWiseAdagradUpdate.Apply(w, rowState, g, dim, ctx->Scalars); break;
                        default: AdamUpdate.Apply(w, rowState, g, dim, ctx->Scalars); break;
                    }
                    var rng = new SplitMix64(BucketHash.Mix(r, ctx->StepSeed));
                    ctx->Store.Quantize(r, w, &rng);
                }
            }
        }
    }

    protected override void DiscardAccumulated() => _grads.Clear();

    private void CheckRow(long row)
    {
        if ((ulong)row >= (ulong)Rows) ThrowHelper.OutOfRange(nameof(row), row, $"table '{Name}' has {Rows} rows.");
    }

    private void CheckRange(long firstRow, int count)
    {
        if (count < 0) ThrowHelper.OutOfRange(nameof(count), count, "count must be >= 0.");
        if (firstRow < 0 || firstRow > Rows - count)
            ThrowHelper.OutOfRange(nameof(firstRow), firstRow, $"rows [{firstRow}, {firstRow + count}) are outside the {Rows} rows of table '{Name}'.");
    }

    public override void Dispose()
    {
        _grads.Dispose();
        if (_rows != null) { NativeMemory.AlignedFree(_rows); _rows = null; }
        if (_scales != null) { NativeMemory.AlignedFree(_scales); _scales = null; }
        if (_state != null) { NativeMemory.AlignedFree(_state); _state = null; }
        base.Dispose();
    }
}

/// <summary>Row of a <see cref="LowPrecisionTable"/>: the id itself, or hash(id) mod rows when hashed.</summary>
internal readonly struct LowPrecisionRowMap(long rows, ulong seed, bool hashed) : IRowMap
{
    private readonly long _rows = rows;
    private readonly ulong _seed = seed;
    private readonly bool _hashed = hashed;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Map(long id) => _hashed ? BucketHash.Bucket(id, _seed, _rows) : id;
}
