using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Kernels;

namespace RecsysEmbed.Core.Tables;

/// <summary>
/// Shared plumbing of the families: argument checks, the batch-level loops, unpooled lookup as bags of one,
/// and the two-phase backward (accumulate every feature's row gradients, then apply each matrix's once).
/// A family implements the three per-feature primitives.
/// </summary>
public abstract unsafe class EmbeddingTableBase : IEmbeddingTable
{
    private readonly FeatureSlot[] _features;
    private readonly Dictionary<string, int> _featureIndex;
    private int[] _unitOffsets = new int[1];

    protected EmbeddingTableBase(string name, IReadOnlyList<(string Name, PoolingMode Pooling, int OutputDim)> features)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (features.Count == 0) ThrowHelper.Argument(nameof(features), $"table '{name}' serves no feature.");
        Name = name;
        _features = new FeatureSlot[features.Count];
        _featureIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        int column = 0;
        for (int f = 0; f < features.Count; f++)
        {
            var (fname, pooling, dim) = features[f];
            if (dim <= 0) ThrowHelper.OutOfRange(nameof(features), dim, $"feature '{fname}' of table '{name}' has output dim {dim}; it must be > 0.");
            if (!_featureIndex.TryAdd(fname, f)) ThrowHelper.Argument(nameof(features), $"feature '{fname}' is listed twice in table '{name}'.");
            _features[f] = new FeatureSlot(fname, pooling, dim, column);
            column += dim;
        }
        OutputWidth = column;
        Threads = Environment.ProcessorCount;
    }

    public string Name { get; }
    public abstract string Family { get; }
    public IReadOnlyList<FeatureSlot> Features => _features;
    public int OutputWidth { get; }
    public abstract IReadOnlyList<EmbeddingMatrix> Matrices { get; }
    public int Threads { get; set; }

    public virtual TableMemory Memory
    {
        get
        {
            var total = default(TableMemory);
            foreach (var m in Matrices) total += TableMemory.Of(m);
            return total;
        }
    }

    public int FeatureIndex(string name) => _featureIndex.TryGetValue(name, out int f) ? f : -1;

    // ---- what a family implements ----

    /// <summary>Writes (overwrites) the pooled vectors of feature f: row b at output + b * stride, OutputDim_f floats.</summary>
    protected abstract void ForwardFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* output, int stride);

    /// <summary>Adds the row gradients of feature f to the family's accumulators; must not change any weight.</summary>
    protected abstract void AccumulateFeature(int feature, in JaggedFeature input, PoolingMode pooling, float* gradOutput, int stride);

    /// <summary>Applies the accumulated gradients with the fused optimizer (each row once) and clears them.</summary>
    protected abstract void ApplyAccumulated();

    /// <summary>Drops accumulated gradients after a failed backward, leaving every row unchanged.</summary>
    protected abstract void DiscardAccumulated();

    /// <summary>Checks ids the family cannot take (a full table's range); throws naming the argument.</summary>
    protected virtual void ValidateIds(int feature, ReadOnlySpan<long> ids) { }

    // ---- batch level ----

    public void Forward(KeyedJaggedBatch batch, Span<float> output) => Forward(batch, output, OutputWidth, 0);

    public void Forward(KeyedJaggedBatch batch, Span<float> output, int outputStride, int column)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int[] map = ResolveFeatures(batch);
        CheckStride(nameof(outputStride), outputStride, column);
        CheckLength(nameof(output), output.Length, StridedLength(batch.BatchSize, outputStride, column));
        for (int f = 0; f < _features.Length; f++) ValidateIds(f, batch.Feature(map[f]).Ids);
        fixed (float* o = output)
        {
            for (int f = 0; f < _features.Length; f++)
                ForwardFeature(f, batch.Feature(map[f]), _features[f].Pooling, o + column + _features[f].Column, outputStride);
        }
    }

    public void Backward(KeyedJaggedBatch batch, ReadOnlySpan<float> gradOutput) => Backward(batch, gradOutput, OutputWidth, 0);

    public void Backward(KeyedJaggedBatch batch, ReadOnlySpan<float> gradOutput, int gradStride, int column)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int[] map = ResolveFeatures(batch);
        CheckStride(nameof(gradStride), gradStride, column);
        CheckLength(nameof(gradOutput), gradOutput.Length, StridedLength(batch.BatchSize, gradStride, column));
        for (int b = 0; b < batch.BatchSize; b++)
            CheckFinite(nameof(gradOutput), gradOutput.Slice(b * gradStride + column, OutputWidth), b * gradStride + column);
        for (int f = 0; f < _features.Length; f++) ValidateIds(f, batch.Feature(map[f]).Ids);
        try
        {
            fixed (float* g = gradOutput)
            {
                for (int f = 0; f < _features.Length; f++)
                    AccumulateFeature(f, batch.Feature(map[f]), _features[f].Pooling, g + column + _features[f].Column, gradStride);
            }
        }
        catch
        {
            DiscardAccumulated();
            throw;
        }
        ApplyAccumulated();
    }

    // ---- one feature ----

    public void Forward(int feature, in JaggedFeature input, Span<float> output)
    {
        var slot = Slot(feature);
        CheckLength(nameof(output), output.Length, (long)input.BagCount * slot.OutputDim);
        ValidateIds(feature, input.Ids);
        fixed (float* o = output) ForwardFeature(feature, input, slot.Pooling, o, slot.OutputDim);
    }

    public void Backward(int feature, in JaggedFeature input, ReadOnlySpan<float> gradOutput)
    {
        var slot = Slot(feature);
        CheckLength(nameof(gradOutput), gradOutput.Length, (long)input.BagCount * slot.OutputDim);
        CheckFinite(nameof(gradOutput), gradOutput[..(input.BagCount * slot.OutputDim)]);
        ValidateIds(feature, input.Ids);
        try
        {
            fixed (float* g = gradOutput) AccumulateFeature(feature, input, slot.Pooling, g, slot.OutputDim);
        }
        catch
        {
            DiscardAccumulated();
            throw;
        }
        ApplyAccumulated();
    }

    public void Lookup(int feature, ReadOnlySpan<long> ids, Span<float> output)
    {
        var slot = Slot(feature);
        CheckLength(nameof(output), output.Length, (long)ids.Length * slot.OutputDim);
        var unit = new JaggedFeature(ids, UnitOffsets(ids.Length));
        ValidateIds(feature, ids);
        fixed (float* o = output) ForwardFeature(feature, unit, PoolingMode.Sum, o, slot.OutputDim);
    }

    public void BackwardLookup(int feature, ReadOnlySpan<long> ids, ReadOnlySpan<float> gradOutput)
    {
        var slot = Slot(feature);
        CheckLength(nameof(gradOutput), gradOutput.Length, (long)ids.Length * slot.OutputDim);
        CheckFinite(nameof(gradOutput), gradOutput[..(ids.Length * slot.OutputDim)]);
        var unit = new JaggedFeature(ids, UnitOffsets(ids.Length));
        ValidateIds(feature, ids);
        try
        {
            fixed (float* g = gradOutput) AccumulateFeature(feature, unit, PoolingMode.Sum, g, slot.OutputDim);
        }
        catch
        {
            DiscardAccumulated();
            throw;
        }
        ApplyAccumulated();
    }

    // ---- helpers for families ----

    /// <summary>Scale of id i in bag [start, end): its weight, divided by the bag length for mean pooling.</summary>
    protected static float Scale(in JaggedFeature input, PoolingMode pooling, int i, int start, int end)
    {
        float s = input.HasWeights ? input.Weights[i] : 1f;
        return pooling == PoolingMode.Mean ? s / (end - start) : s;
    }

    /// <summary>
    /// What a family adds to a bag's output for one id, for <see cref="ForwardBags"/>: plain values and pointers only
    /// (no managed references), so the kernel threads can share it by pointer.
    /// </summary>
    protected interface IBagKernel
    {
        /// <summary>Floats written per bag.</summary>
        int OutputDim { get; }
        /// <summary>Floats of scratch <see cref="Add"/> needs (each thread has its own).</summary>
        int ScratchFloats { get; }
        /// <summary>dst += scale * (the id's vector).</summary>
        void Add(long id, float scale, float* dst, float* scratch);
    }

    // Below this many ids one thread is faster than waking the others (the bar of the accumulate kernel below);
    // scratch up to this many floats lives on each thread's stack.
    private const int ParallelBagIds = 2048, StackScratchFloats = 16_384;

    private struct BagContext<TKernel> where TKernel : unmanaged, IBagKernel
    {
        public TKernel Kernel;
        public long* Ids;
        public int* Offsets;
        public float* Weights;
        public int BagCount;
        public bool Mean;
        public float* Output;
        public int Stride;
    }

    /// <summary>
    /// Pooled forward of one feature through <paramref name="kernel"/>: bags split across the kernel threads, each bag
    /// cleared and then summed in id order by one thread (scale = weight, divided by the bag length for mean pooling),
    /// so the result does not depend on the thread count.
    /// </summary>
    protected void ForwardBags<TKernel>(in TKernel kernel, in JaggedFeature input, PoolingMode pooling, float* output, int stride)
        where TKernel : unmanaged, IBagKernel
    {
        fixed (long* ids = input.Ids)
        fixed (int* offsets = input.Offsets)
        fixed (float* weights = input.Weights)
        {
            var ctx = new BagContext<TKernel>
            {
                Kernel = kernel, Ids = ids, Offsets = offsets, Weights = input.HasWeights ? weights : null, BagCount = input.BagCount,
                Mean = pooling == PoolingMode.Mean, Output = output, Stride = stride,
            };
            int parts = Threads > 1 && input.Ids.Length >= ParallelBagIds && kernel.ScratchFloats <= StackScratchFloats ? Threads : 1;
            if (parts == 1) BagPart<TKernel>(&ctx, 0, 1);
            else KernelThreads.Shared.Run(parts, &BagPart<TKernel>, &ctx);
        }
    }

    private static void BagPart<TKernel>(void* state, int part, int parts) where TKernel : unmanaged, IBagKernel
    {
        var ctx = (BagContext<TKernel>*)state;
        TKernel kernel = ctx->Kernel;
        int dim = kernel.OutputDim, need = kernel.ScratchFloats;
        Span<float> buffer = need <= StackScratchFloats ? stackalloc float[need] : new float[need];
        int baseOffset = ctx->Offsets[0];
        var (first, last) = KernelThreads.Range(ctx->BagCount, part, parts);
        fixed (float* scratch = buffer)
        {
            for (int b = first; b < last; b++)
            {
                int start = ctx->Offsets[b] - baseOffset, end = ctx->Offsets[b + 1] - baseOffset;
                float* dst = ctx->Output + (long)b * ctx->Stride;
                new Span<float>(dst, dim).Clear();
                for (int i = start; i < end; i++)
                {
                    float scale = ctx->Weights is null ? 1f : ctx->Weights[i];
                    if (ctx->Mean) scale /= end - start;
                    kernel.Add(ctx->Ids[i], scale, dst, scratch);
                }
            }
        }
    }

    /// <summary>Fills a gather job for one feature; the caller pins ids/offsets/weights.</summary>
    protected static GatherPoolKernel.Job Job(EmbeddingMatrix m, long* ids, int idCount, int* offsets, int bags, float* weights,
                                              PoolingMode pooling, float* output, int stride, bool overwrite) => new()
    {
        Table = m.WeightsPointer, Dim = m.Dim, Ids = ids, IdCount = idCount, Offsets = offsets, Weights = weights, BagCount = bags,
        Mean = pooling == PoolingMode.Mean, Output = output, OutputStride = stride, Overwrite = overwrite,
        PrefetchDistance = GatherPoolKernel.DefaultPrefetchDistance,
    };

    /// <summary>
    /// Sums scale * gradOutput-row into each touched row's accumulator slot, for rows = map(ids). With several
    /// threads, thread p handles the rows its accumulator partition owns, so no row is shared between threads and
    /// every row's contributions are still summed in id order (the result does not depend on the thread count).
    /// </summary>
    protected void AccumulateGather<TMap>(in TMap map, in JaggedFeature input, PoolingMode pooling, float* grad, int stride,
                                          int column, int width, RowGradientAccumulator acc) where TMap : unmanaged, IRowMap
    {
        fixed (long* ids = input.Ids)
        fixed (int* offsets = input.Offsets)
        fixed (float* weights = input.Weights)
        {
            var ctx = new AccumulateContext<TMap>
            {
                Map = map, Ids = ids, IdCount = input.Ids.Length, Offsets = offsets, Weights = input.HasWeights ? weights : null,
                BagCount = input.BagCount, Mean = pooling == PoolingMode.Mean, Grad = grad, Stride = stride, Column = column, Width = width,
                Partitions = acc.Partitions, PartitionCount = acc.PartitionCount,
            };
            int parts = Threads > 1 && input.Ids.Length >= 2048 ? acc.PartitionCount : 1;
            if (parts == 1)
            {
                AccumulateAll(&ctx);
            }
            else
            {
                // Map every id to its row and owner once, split across threads, so each thread then skims a byte
                // per id instead of re-hashing all of them.
                EnsureScratch(input.Ids.Length);
                ctx.Rows = _rowScratch;
                ctx.Owners = _ownerScratch;
                KernelThreads.Shared.Run(parts, &MapPartEntry<TMap>, &ctx);
                KernelThreads.Shared.Run(parts, &AccumulatePartEntry<TMap>, &ctx);
            }
        }
    }

    // Hash slots of ids this far ahead are prefetched: the probes are random and miss L2 (16 beat 8 by ~20%).
    private const int AccumulateAhead = 16;

    private struct AccumulateContext<TMap> where TMap : unmanaged, IRowMap
    {
        public TMap Map;
        public long* Ids;
        public int IdCount;
        public int* Offsets;
        public float* Weights;
        public int BagCount;
        public bool Mean;
        public float* Grad;
        public int Stride, Column, Width;
        public RowGradientAccumulator.Partition* Partitions;
        public int PartitionCount;
        public long* Rows;    // map(ids[i]), filled by MapPartEntry
        public byte* Owners;  // partition owning Rows[i]
    }

    private long* _rowScratch;
    private byte* _ownerScratch;
    private int _scratchCapacity;

    private void EnsureScratch(int count)
    {
        if (count <= _scratchCapacity) return;
        int capacity = Math.Max(count, _scratchCapacity * 2);
        _rowScratch = (long*)System.Runtime.InteropServices.NativeMemory.Realloc(_rowScratch, (nuint)(capacity * (long)sizeof(long)));
        _ownerScratch = (byte*)System.Runtime.InteropServices.NativeMemory.Realloc(_ownerScratch, (nuint)capacity);
        _scratchCapacity = capacity;
    }

    private static void MapPartEntry<TMap>(void* state, int part, int parts) where TMap : unmanaged, IRowMap
    {
        var ctx = (AccumulateContext<TMap>*)state;
        var (start, end) = KernelThreads.Range(ctx->IdCount, part, parts);
        TMap map = ctx->Map;
        int partitions = ctx->PartitionCount;
        for (int i = start; i < end; i++)
        {
            long row = map.Map(ctx->Ids[i]);
            ctx->Rows[i] = row;
            ctx->Owners[i] = (byte)RowGradientAccumulator.Owner(row, partitions);
        }
    }

    private static void AccumulatePartEntry<TMap>(void* state, int part, int parts) where TMap : unmanaged, IRowMap
    {
        var ctx = (AccumulateContext<TMap>*)state;
        // KernelThreads may run fewer parts than partitions (a busy pool runs them inline): cover them all.
        for (int p = part; p < ctx->PartitionCount; p += parts) AccumulatePart(ctx, p, ctx->PartitionCount);
    }

    // One thread: a single pass that routes each row to the partition owning it.
    private static void AccumulateAll<TMap>(AccumulateContext<TMap>* ctx) where TMap : unmanaged, IRowMap
    {
        int ahead = AccumulateAhead;
        int partitions = ctx->PartitionCount;
        TMap map = ctx->Map;
        long* ids = ctx->Ids;
        int baseOffset = ctx->Offsets[0];
        for (int b = 0; b < ctx->BagCount; b++)
        {
            int start = ctx->Offsets[b] - baseOffset, end = ctx->Offsets[b + 1] - baseOffset;
            float meanScale = ctx->Mean && end > start ? 1f / (end - start) : 1f;
            float* g = ctx->Grad + (long)b * ctx->Stride + ctx->Column;
            for (int i = start; i < end; i++)
            {
                if (i + ahead < ctx->IdCount)
                {
                    long next = map.Map(ids[i + ahead]);
                    RowGradientAccumulator.Prefetch(ref ctx->Partitions[RowGradientAccumulator.Owner(next, partitions)], next);
                }
                long row = map.Map(ids[i]);
                float s = ctx->Weights != null ? ctx->Weights[i] * meanScale : meanScale;
                float* slot = RowGradientAccumulator.SlotUninitialized(ref ctx->Partitions[RowGradientAccumulator.Owner(row, partitions)], row, out bool fresh);
                if (fresh) AxpyKernel.Scale(s, g, slot, ctx->Width);
                else AxpyKernel.Axpy(s, g, slot, ctx->Width);
            }
        }
    }

    private static void AccumulatePart<TMap>(AccumulateContext<TMap>* ctx, int part, int partitions) where TMap : unmanaged, IRowMap
    {
        int ahead = AccumulateAhead;
        ref var partition = ref ctx->Partitions[part];
        long* rows = ctx->Rows;
        byte* owners = ctx->Owners;
        int baseOffset = ctx->Offsets[0];
        for (int b = 0; b < ctx->BagCount; b++)
        {
            int start = ctx->Offsets[b] - baseOffset, end = ctx->Offsets[b + 1] - baseOffset;
            float meanScale = ctx->Mean && end > start ? 1f / (end - start) : 1f;
            float* g = ctx->Grad + (long)b * ctx->Stride + ctx->Column;
            for (int i = start; i < end; i++)
            {
                if (i + ahead < ctx->IdCount && owners[i + ahead] == part) RowGradientAccumulator.Prefetch(ref partition, rows[i + ahead]);
                if (owners[i] != part) continue;
                float s = ctx->Weights != null ? ctx->Weights[i] * meanScale : meanScale;
                float* slot = RowGradientAccumulator.SlotUninitialized(ref partition, rows[i], out bool fresh);
                if (fresh) AxpyKernel.Scale(s, g, slot, ctx->Width);
                else AxpyKernel.Axpy(s, g, slot, ctx->Width);
            }
        }
    }

    private FeatureSlot Slot(int feature)
    {
        if ((uint)feature >= (uint)_features.Length)
            ThrowHelper.OutOfRange(nameof(feature), feature, $"table '{Name}' serves {_features.Length} feature(s).");
        return _features[feature];
    }

    private int[] ResolveFeatures(KeyedJaggedBatch batch)
    {
        // Per-call array avoided: cache the mapping for the last key list seen.
        if (!ReferenceEquals(batch.Keys, _lastKeys))
        {
            var map = new int[_features.Length];
            for (int f = 0; f < _features.Length; f++)
            {
                map[f] = batch.IndexOf(_features[f].Name);
                if (map[f] < 0) ThrowHelper.Argument(nameof(batch), $"table '{Name}' needs feature '{_features[f].Name}', which the batch lacks (keys: {string.Join(", ", batch.Keys)}).");
            }
            _lastMap = map;
            _lastKeys = batch.Keys;
        }
        return _lastMap!;
    }

    private IReadOnlyList<string>? _lastKeys;
    private int[]? _lastMap;

    private ReadOnlySpan<int> UnitOffsets(int n)
    {
        if (_unitOffsets.Length < n + 1)
        {
            _unitOffsets = new int[Math.Max(n + 1, _unitOffsets.Length * 2)];
            for (int i = 0; i < _unitOffsets.Length; i++) _unitOffsets[i] = i;
        }
        return _unitOffsets.AsSpan(0, n + 1);
    }

    private static void CheckLength(string name, long actual, long needed)
    {
        if (actual < needed) ThrowHelper.TooShort(name, needed, actual);
    }

    private static void CheckFinite(string name, ReadOnlySpan<float> values, int baseIndex = 0)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i])) ThrowHelper.NotFinite(name, baseIndex + i, values[i]);
        }
    }

    private void CheckStride(string name, int stride, int column)
    {
        if (column < 0) ThrowHelper.OutOfRange(nameof(column), column, "column must be >= 0.");
        if (stride < column + OutputWidth)
            ThrowHelper.OutOfRange(name, stride, $"the stride must be >= column + OutputWidth = {column + OutputWidth} for table '{Name}'.");
    }

    private long StridedLength(int batchSize, int stride, int column) =>
        batchSize == 0 ? 0 : (long)(batchSize - 1) * stride + column + OutputWidth;

    public virtual void Dispose()
    {
        System.Runtime.InteropServices.NativeMemory.Free(_rowScratch);
        System.Runtime.InteropServices.NativeMemory.Free(_ownerScratch);
        _rowScratch = null;
        _ownerScratch = null;
        _scratchCapacity = 0;
        foreach (var m in Matrices) m.Dispose();
        GC.SuppressFinalize(this);
    }
}
