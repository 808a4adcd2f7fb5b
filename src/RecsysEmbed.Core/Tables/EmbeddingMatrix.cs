using RecsysEmbed.Core.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RecsysEmbed.Core.Kernels;
using RecsysEmbed.Core.Optimizers;

namespace RecsysEmbed.Core.Tables;

/// <summary>
/// A dense Rows x Dim fp32 matrix of trainable rows with its fused optimizer state, in native memory
/// (64-byte aligned, beyond the 2^31-element limit of managed arrays):
/// <code>
///   weights  [ row 0: w_0 .. w_{Dim-1} ][ row 1 ] ...                  Rows * Dim floats
///   state    [ row 0: StateWidth floats ][ row 1 ] ...                   Rows * StateWidth floats (0 for SGD)
/// </code>
/// Every table family is built from one or more of these. Updates go through
/// <see cref="ApplyRowGradients"/>, which takes already deduplicated rows, so each row changes once per step.
/// </summary>
public sealed unsafe class EmbeddingMatrix : IDisposable
{
    private float* _weights;
    private float* _state;

    public EmbeddingMatrix(string name, long rows, int dim, SparseOptimizerSettings optimizer)
    {
        if (rows <= 0) ThrowHelper.OutOfRange(nameof(rows), rows, $"matrix '{name}' needs at least one row.");
        if (dim <= 0) ThrowHelper.OutOfRange(nameof(dim), dim, $"matrix '{name}' needs dim > 0.");
        ArgumentNullException.ThrowIfNull(optimizer);
        optimizer.Validate();
        Name = name;
        Rows = rows;
        Dim = dim;
        Optimizer = optimizer;
        StateWidth = optimizer.StateWidth(dim);
        _weights = NativeRows.Allocate(rows * dim);
        FillZero(_weights, rows * dim);
        if (StateWidth > 0)
        {
            _state = NativeRows.Allocate(rows * StateWidth);
            Fill(_state, rows * StateWidth, optimizer.Kind is SparseOptimizerKind.Adagrad or SparseOptimizerKind.RowWiseAdagrad ? optimizer.InitialAccumulator : 0f);
        }
    }

    public string Name { get; }
    public long Rows { get; }
    public int Dim { get; }
    public int StateWidth { get; }
    public SparseOptimizerSettings Optimizer { get; }

    /// <summary>Optimizer steps applied so far (Adam's t).</summary>
    public long StepCount { get; private set; }

    public long WeightCount => Rows * Dim;
    public long StateCount => Rows * StateWidth;

    internal float* WeightsPointer => _weights;
    internal float* StatePointer => _state;

    public Span<float> Row(long row)
    {
        if ((ulong)row >= (ulong)Rows) ThrowHelper.OutOfRange(nameof(row), row, $"matrix '{Name}' has {Rows} rows.");
        return new Span<float>(_weights + row * Dim, Dim);
    }

    public Span<float> StateRow(long row)
    {
        if ((ulong)row >= (ulong)Rows) ThrowHelper.OutOfRange(nameof(row), row, $"matrix '{Name}' has {Rows} rows.");
        return new Span<float>(_state + row * StateWidth, StateWidth);
    }

    /// <summary>Uniform(-bound, bound) init, deterministic for a seed; rows are filled in parallel chunks.</summary>
    public void InitUniform(float bound, ulong seed)
    {
        long total = Rows * Dim;
        const long chunk = 1 << 20;
        long chunks = (total + chunk - 1) / chunk;
        float* w = _weights;
        Parallel.For(0, chunks, c =>
        {
            var rng = new SplitMix64(seed ^ (ulong)c * 0x9E3779B97F4A7C15ul);
            long end = Math.Min(total, (c + 1) * chunk);
            for (long i = c * chunk; i < end; i++) w[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
        });
    }

    /// <summary>Copies weights in from a row-major span of Rows * Dim floats (tests, checkpoints).</summary>
    public void SetWeights(ReadOnlySpan<float> source)
    {
        if (source.Length != WeightCount) ThrowHelper.TooShort(nameof(source), WeightCount, source.Length);
        source.CopyTo(new Span<float>(_weights, checked((int)WeightCount)));
    }

    public float[] CopyWeights() => new ReadOnlySpan<float>(_weights, checked((int)WeightCount)).ToArray();

    /// <summary>
    /// Applies the optimizer to each listed row with its summed gradient (grads row i is rows[i]'s gradient).
    /// Rows must be distinct and in range (the caller deduplicated them). Split across threads by row range;
    /// rows are independent, so the result does not depend on the thread count.
    /// </summary>
    public void ApplyRowGradients(ReadOnlySpan<long> rows, ReadOnlySpan<float> grads, int threads = 1)
    {
        if (grads.Length < (long)rows.Length * Dim) ThrowHelper.TooShort(nameof(grads), (long)rows.Length * Dim, grads.Length);
        foreach (long r in rows)
        {
            if ((ulong)r >= (ulong)Rows) ThrowHelper.OutOfRange(nameof(rows), r, $"matrix '{Name}' has {Rows} rows.");
        }
        fixed (long* rp = rows)
        fixed (float* gp = grads)
        {
            var segment = new RowGradientAccumulator.Partition { Rows = rp, Grads = gp, Count = rows.Length, Dim = Dim };
            Apply(&segment, 1, threads, splitSegments: true);
        }
    }

    /// <summary>Applies the partitions of an accumulator as one optimizer step (rows were range-checked when gathered).</summary>
    internal void ApplyPartitions(RowGradientAccumulator.Partition* parts, int count, int threads)
    {
        for (int p = 0; p < count; p++)
            for (int i = 0; i < parts[p].Count; i++)
            {
                long r = parts[p].Rows[i];
                if ((ulong)r >= (ulong)Rows) ThrowHelper.OutOfRange("rows", r, $"matrix '{Name}' has {Rows} rows.");
            }
        Apply(parts, count, threads, splitSegments: count == 1);
    }

    // One step over one or more segments of (row, gradient) pairs. With several segments (the partitions of an
    // accumulator) each thread takes whole segments; with one, the segment is split by range.
    private void Apply(RowGradientAccumulator.Partition* segments, int segmentCount, int threads, bool splitSegments)
    {
        StepCount++;
        int total = 0;
        for (int p = 0; p < segmentCount; p++) total += segments[p].Count;
        var ctx = new UpdateContext
        {
            Weights = _weights, State = _state, Dim = Dim, StateWidth = StateWidth, Segments = segments, SegmentCount = segmentCount,
            SplitSegments = splitSegments, Scalars = new StepScalars(Optimizer, StepCount),
        };
        int parts = total < 1024 ? 1 : splitSegments ? threads : Math.Min(threads, segmentCount);
        delegate*<void*, int, int, void> body = Optimizer.Kind switch
        {
            SparseOptimizerKind.Sgd => &UpdatePart<SgdUpdate>,
            SparseOptimizerKind.Adagrad => &UpdatePart<AdagradUpdate>,
            SparseOptimizerKind.RowWiseAdagrad => &UpdatePart<RowWiseAdagradUpdate>,
            _ => &UpdatePart<AdamUpdate>,
        };
        KernelThreads.Shared.Run(parts, body, &ctx);
    }

    // Rows are random: the weights and state of the row this many updates ahead are prefetched.
    private const int UpdateAhead = 16;

    private struct UpdateContext
    {
        public float* Weights;
        public float* State;
        public int Dim;
        public int StateWidth;
        public RowGradientAccumulator.Partition* Segments;
        public int SegmentCount;
        public bool SplitSegments;
        public StepScalars Scalars;
    }

    private static void UpdatePart<TUpdate>(void* state, int part, int parts) where TUpdate : struct, IRowUpdate
    {
        ref var ctx = ref Unsafe.AsRef<UpdateContext>(state);
        if (ctx.SplitSegments)
        {
            for (int s = 0; s < ctx.SegmentCount; s++)
            {
                var (start, end) = KernelThreads.Range(ctx.Segments[s].Count, part, parts);
                UpdateRange<TUpdate>(ref ctx, ref ctx.Segments[s], start, end);
            }
            return;
        }
        for (int s = part; s < ctx.SegmentCount; s += parts) UpdateRange<TUpdate>(ref ctx, ref ctx.Segments[s], 0, ctx.Segments[s].Count);
    }

    private static void UpdateRange<TUpdate>(ref UpdateContext ctx, ref RowGradientAccumulator.Partition segment, int start, int end)
        where TUpdate : struct, IRowUpdate
    {
        int dim = ctx.Dim, sw = ctx.StateWidth;
        int ahead = UpdateAhead;
        for (int i = start; i < end; i++)
        {
            if (i + ahead < end && System.Runtime.Intrinsics.X86.Sse.IsSupported)
            {
                long next = segment.Rows[i + ahead];
                byte* w = (byte*)(ctx.Weights + next * dim);
                for (int line = 0; line < dim * sizeof(float); line += 64) System.Runtime.Intrinsics.X86.Sse.Prefetch0(w + line);
                if (sw > 0) System.Runtime.Intrinsics.X86.Sse.Prefetch0(ctx.State + next * sw);
            }
            long r = segment.Rows[i];
            TUpdate.Apply(ctx.Weights + r * dim, ctx.State + r * sw, segment.Grads + (long)i * dim, dim, ctx.Scalars);
        }
    }

    /// <summary>Restores optimizer bookkeeping (checkpoints).</summary>
    public void SetStepCount(long step) => StepCount = step;

    private static void FillZero(float* p, long count) => Fill(p, count, 0f);

    private static void Fill(float* p, long count, float value)
    {
        const int chunk = 1 << 28;
        for (long off = 0; off < count; off += chunk)
            new Span<float>(p + off, (int)Math.Min(chunk, count - off)).Fill(value);
    }

    public void Dispose()
    {
        if (_weights != null) { NativeMemory.AlignedFree(_weights); _weights = null; }
        if (_state != null) { NativeMemory.AlignedFree(_state); _state = null; }
        GC.SuppressFinalize(this);
    }

    ~EmbeddingMatrix() => Dispose();
}
