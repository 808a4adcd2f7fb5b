using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RecsysEmbed.Core.Kernels;

/// <summary>
/// Pooled gather: for each bag b, out[b, 0..dim) (+)= sum_i scale_i * table[map(ids[i]), 0..dim),
/// scale_i = weight_i (1 when unweighted), divided by the bag length for mean pooling.
/// Stateless; callers pin their buffers. Pointers are used (not spans) because the loop is bound by the
/// latency of random row reads and the JIT does not hoist span bounds checks out of the indirect row access;
/// the safe reference is <see cref="Reference"/>, used by the tests.
/// </summary>
public static unsafe class GatherPoolKernel
{
    /// <summary>
    /// Ids ahead to prefetch. On the 1M x 64 shape, one thread: 48 was best for uniform ids (148 Mrows/s vs 96 at 16),
    /// 64 nearly as good (142) and better for skewed ids (251 vs 220); see benchmarks/RESULTS.md.
    /// </summary>
    public const int DefaultPrefetchDistance = 64;
    // Every 64-byte line of the row is prefetched: prefetching only every other line (relying on the adjacent-line
    // prefetcher) halved uniform-id throughput in our measurements (52 vs 105 Mrows/s, one thread).
    private const long PrefetchStride = 64;

    public struct Job
    {
        public float* Table;
        public int Dim;
        public long* Ids;
        public int IdCount;
        public int* Offsets;      // BagCount + 1, absolute; bag b spans [Offsets[b]-Offsets[0], Offsets[b+1]-Offsets[0])
        public float* Weights;    // null when unweighted
        public int BagCount;
        public bool Mean;
        public float* Output;     // row b at Output + b * OutputStride
        public int OutputStride;
        public bool Overwrite;    // write instead of accumulate
        public int PrefetchDistance;
    }

    public static void Run<TMap>(ref Job job, in TMap map, int threads) where TMap : struct, IRowMap
    {
        // Small batches are not worth waking a worker for.
        if (threads <= 1 || job.IdCount < 2048)
        {
            RunRange(ref job, map, 0, job.BagCount);
            return;
        }
        var ctx = new Context<TMap> { Job = job, Map = map };
        KernelThreads.Shared.Run(threads, &Part<TMap>, Unsafe.AsPointer(ref ctx));
    }

    private struct Context<TMap> where TMap : struct, IRowMap
    {
        public Job Job;
        public TMap Map;
    }

    private static void Part<TMap>(void* state, int part, int parts) where TMap : struct, IRowMap
    {
        ref var ctx = ref Unsafe.AsRef<Context<TMap>>(state);
        var (b0, b1) = KernelThreads.Range(ctx.Job.BagCount, part, parts);
        RunRange(ref ctx.Job, ctx.Map, b0, b1);
    }

    public static void RunRange<TMap>(ref Job job, in TMap map, int b0, int b1) where TMap : struct, IRowMap
    {
        int dim = job.Dim;
        int baseOffset = job.Offsets[0];
        int pf = job.PrefetchDistance;
        int idCount = job.IdCount;
        for (int b = b0; b < b1; b++)
        {
            int start = job.Offsets[b] - baseOffset, end = job.Offsets[b + 1] - baseOffset;
            float meanScale = job.Mean && end > start ? 1f / (end - start) : 1f;
            float* outRow = job.Output + (long)b * job.OutputStride;
            for (int c = 0; c < dim; c += 64)
            {
                int width = Math.Min(64, dim - c);
                bool prefetch = c == 0;
                if (width == 64 && Vector512.IsHardwareAccelerated)
                    Tile64x512(ref job, map, start, end, c, meanScale, outRow + c, pf, idCount, prefetch);
                else if (width == 64 && Vector256.IsHardwareAccelerated)
                    Tile64(ref job, map, start, end, c, meanScale, outRow + c, pf, idCount, prefetch);
                else if (width == 32 && Vector256.IsHardwareAccelerated)
                    Tile32(ref job, map, start, end, c, meanScale, outRow + c, pf, idCount, prefetch);
                else if (width == 16 && Vector256.IsHardwareAccelerated)
                    Tile16(ref job, map, start, end, c, meanScale, outRow + c, pf, idCount, prefetch);
                else
                    TileAny(ref job, map, start, end, c, width, meanScale, outRow + c, pf, idCount, prefetch);
            }
        }
    }

    // 64 columns held in eight 256-bit accumulators across the whole bag. Job fields are copied to locals so the
    // JIT keeps them in registers (it cannot prove the loads through `ref job` are loop-invariant).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile64<TMap>(ref Job job, in TMap map, int start, int end, int col, float meanScale, float* dst,
                                     int pf, int idCount, bool prefetch) where TMap : struct, IRowMap
    {
        Vector256<float> a0, a1, a2, a3, a4, a5, a6, a7;
        if (job.Overwrite)
        {
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = Vector256<float>.Zero;
        }
        else
        {
            a0 = Vector256.Load(dst); a1 = Vector256.Load(dst + 8); a2 = Vector256.Load(dst + 16); a3 = Vector256.Load(dst + 24);
            a4 = Vector256.Load(dst + 32); a5 = Vector256.Load(dst + 40); a6 = Vector256.Load(dst + 48); a7 = Vector256.Load(dst + 56);
        }
        long dim = job.Dim;
        float* table = job.Table;
        long* ids = job.Ids;
        float* weights = job.Weights;
        bool weighted = weights != null;
        TMap m = map;
        bool doPrefetch = prefetch && pf > 0 && Sse.IsSupported;
        for (int i = start; i < end; i++)
        {
            if (doPrefetch && i + pf < idCount) Prefetch(table + m.Map(ids[i + pf]) * dim, dim);
            float* r = table + m.Map(ids[i]) * dim + col;
            float s = weighted ? weights[i] * meanScale : meanScale;
            if (s == 1f)
            {
                a0 += Vector256.Load(r); a1 += Vector256.Load(r + 8); a2 += Vector256.Load(r + 16); a3 += Vector256.Load(r + 24);
                a4 += Vector256.Load(r + 32); a5 += Vector256.Load(r + 40); a6 += Vector256.Load(r + 48); a7 += Vector256.Load(r + 56);
            }
            else
            {
                var vs = Vector256.Create(s);
                a0 = Vector256.FusedMultiplyAdd(Vector256.Load(r), vs, a0); a1 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 8), vs, a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 16), vs, a2); a3 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 24), vs, a3);
                a4 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 32), vs, a4); a5 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 40), vs, a5);
                a6 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 48), vs, a6); a7 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 56), vs, a7);
            }
        }
        a0.Store(dst); a1.Store(dst + 8); a2.Store(dst + 16); a3.Store(dst + 24);
        a4.Store(dst + 32); a5.Store(dst + 40); a6.Store(dst + 48); a7.Store(dst + 56);
    }

    // Same tile with four 512-bit accumulators, on machines with AVX-512.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile64x512<TMap>(ref Job job, in TMap map, int start, int end, int col, float meanScale, float* dst,
                                         int pf, int idCount, bool prefetch) where TMap : struct, IRowMap
    {
        Vector512<float> a0, a1, a2, a3;
        if (job.Overwrite)
        {
            a0 = a1 = a2 = a3 = Vector512<float>.Zero;
        }
        else
        {
            a0 = Vector512.Load(dst); a1 = Vector512.Load(dst + 16); a2 = Vector512.Load(dst + 32); a3 = Vector512.Load(dst + 48);
        }
        long dim = job.Dim;
        float* table = job.Table;
        long* ids = job.Ids;
        float* weights = job.Weights;
        bool weighted = weights != null;
        TMap m = map;
        bool doPrefetch = prefetch && pf > 0 && Sse.IsSupported;
        for (int i = start; i < end; i++)
        {
            if (doPrefetch && i + pf < idCount) Prefetch(table + m.Map(ids[i + pf]) * dim, dim);
            float* r = table + m.Map(ids[i]) * dim + col;
            float s = weighted ? weights[i] * meanScale : meanScale;
            if (s == 1f)
            {
                a0 += Vector512.Load(r); a1 += Vector512.Load(r + 16); a2 += Vector512.Load(r + 32); a3 += Vector512.Load(r + 48);
            }
            else
            {
                var vs = Vector512.Create(s);
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(r), vs, a0); a1 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 16), vs, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 32), vs, a2); a3 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 48), vs, a3);
            }
        }
        a0.Store(dst); a1.Store(dst + 16); a2.Store(dst + 32); a3.Store(dst + 48);
    }

    // 32 and 16 columns (the common small embedding dims) in four or two 256-bit accumulators.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile32<TMap>(ref Job job, in TMap map, int start, int end, int col, float meanScale, float* dst,
                                     int pf, int idCount, bool prefetch) where TMap : struct, IRowMap
    {
        Vector256<float> a0, a1, a2, a3;
        if (job.Overwrite) a0 = a1 = a2 = a3 = Vector256<float>.Zero;
        else { a0 = Vector256.Load(dst); a1 = Vector256.Load(dst + 8); a2 = Vector256.Load(dst + 16); a3 = Vector256.Load(dst + 24); }
        long dim = job.Dim;
        float* table = job.Table;
        long* ids = job.Ids;
        float* weights = job.Weights;
        TMap m = map;
        bool doPrefetch = prefetch && pf > 0 && Sse.IsSupported;
        for (int i = start; i < end; i++)
        {
            if (doPrefetch && i + pf < idCount) Prefetch(table + m.Map(ids[i + pf]) * dim, dim);
            float* r = table + m.Map(ids[i]) * dim + col;
            var vs = Vector256.Create(weights != null ? weights[i] * meanScale : meanScale);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(r), vs, a0); a1 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 8), vs, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 16), vs, a2); a3 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 24), vs, a3);
        }
        a0.Store(dst); a1.Store(dst + 8); a2.Store(dst + 16); a3.Store(dst + 24);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile16<TMap>(ref Job job, in TMap map, int start, int end, int col, float meanScale, float* dst,
                                     int pf, int idCount, bool prefetch) where TMap : struct, IRowMap
    {
        Vector256<float> a0, a1;
        if (job.Overwrite) a0 = a1 = Vector256<float>.Zero;
        else { a0 = Vector256.Load(dst); a1 = Vector256.Load(dst + 8); }
        long dim = job.Dim;
        float* table = job.Table;
        long* ids = job.Ids;
        float* weights = job.Weights;
        TMap m = map;
        bool doPrefetch = prefetch && pf > 0 && Sse.IsSupported;
        for (int i = start; i < end; i++)
        {
            if (doPrefetch && i + pf < idCount) Prefetch(table + m.Map(ids[i + pf]) * dim, dim);
            float* r = table + m.Map(ids[i]) * dim + col;
            var vs = Vector256.Create(weights != null ? weights[i] * meanScale : meanScale);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(r), vs, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(r + 8), vs, a1);
        }
        a0.Store(dst); a1.Store(dst + 8);
    }

    // Any width: accumulate in the (L1-resident) output row.
    private static void TileAny<TMap>(ref Job job, in TMap map, int start, int end, int col, int width, float meanScale, float* dst,
                                      int pf, int idCount, bool prefetch) where TMap : struct, IRowMap
    {
        if (job.Overwrite) new Span<float>(dst, width).Clear();
        long dim = job.Dim;
        bool weighted = job.Weights != null;
        bool doPrefetch = prefetch && pf > 0 && Sse.IsSupported;
        for (int i = start; i < end; i++)
        {
            if (doPrefetch && i + pf < idCount) Prefetch(job.Table + map.Map(job.Ids[i + pf]) * dim, dim);
            float* r = job.Table + map.Map(job.Ids[i]) * dim + col;
            float s = weighted ? job.Weights[i] * meanScale : meanScale;
            AxpyKernel.Axpy(s, r, dst, width);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(float* row, long dim)
    {
        byte* p = (byte*)row;
        long bytes = dim * sizeof(float);
        if (bytes == 256)
        {
            // The common 64-float row: four lines, unrolled (the loop's own overhead cost ~10% here).
            Sse.Prefetch0(p); Sse.Prefetch0(p + 64); Sse.Prefetch0(p + 128); Sse.Prefetch0(p + 192);
            return;
        }
        for (long line = 0; line < bytes; line += PrefetchStride) Sse.Prefetch0(p + line);
    }

    /// <summary>Plain scalar reference of the same contract, for tests.</summary>
    public static void Reference(ReadOnlySpan<float> table, int dim, ReadOnlySpan<long> rows, ReadOnlySpan<int> offsets,
                                 ReadOnlySpan<float> weights, bool mean, Span<float> output, int outputStride)
    {
        int baseOffset = offsets[0];
        for (int b = 0; b + 1 < offsets.Length; b++)
        {
            int start = offsets[b] - baseOffset, end = offsets[b + 1] - baseOffset;
            var dst = output.Slice(b * outputStride, dim);
            dst.Clear();
            for (int i = start; i < end; i++)
            {
                float s = weights.IsEmpty ? 1f : weights[i];
                if (mean) s /= end - start;
                for (int d = 0; d < dim; d++) dst[d] += s * table[(int)(rows[i] * dim + d)];
            }
        }
    }
}

/// <summary>y += a * x (Axpy) or y = a * x (Scale) over n floats, vectorised with a scalar tail.</summary>
public static unsafe class AxpyKernel
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scale(float a, float* x, float* y, int n)
    {
        int d = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; d + 8 <= n; d += 8) (Vector256.Load(x + d) * va).Store(y + d);
        }
        for (; d < n; d++) y[d] = a * x[d];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float a, float* x, float* y, int n)
    {
        int d = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; d + 8 <= n; d += 8)
                Vector256.FusedMultiplyAdd(Vector256.Load(x + d), va, Vector256.Load(y + d)).Store(y + d);
        }
        for (; d < n; d++) y[d] += a * x[d];
    }
}
