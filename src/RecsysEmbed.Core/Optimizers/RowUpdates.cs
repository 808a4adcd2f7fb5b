using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RecsysEmbed.Core.Optimizers;

/// <summary>Per-step scalars shared by all rows of one update.</summary>
public readonly struct StepScalars
{
    public readonly float LearningRate, Epsilon, Beta1, Beta2, BiasCorrection1, BiasCorrection2;

    public StepScalars(SparseOptimizerSettings s, long step)
    {
        LearningRate = s.LearningRate;
        Epsilon = s.Epsilon;
        Beta1 = s.Beta1;
        Beta2 = s.Beta2;
        BiasCorrection1 = 1f - MathF.Pow(s.Beta1, step);
        BiasCorrection2 = 1f - MathF.Pow(s.Beta2, step);
    }
}

/// <summary>
/// One optimizer's update of one row given its (deduplicated, summed) gradient. Readonly structs passed as
/// generic arguments so the fused loop in <see cref="Tables.EmbeddingMatrix"/> is specialised per optimizer.
/// </summary>
public unsafe interface IRowUpdate
{
    static abstract void Apply(float* w, float* state, float* g, int dim, in StepScalars s);
}

public readonly unsafe struct SgdUpdate : IRowUpdate
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Apply(float* w, float* state, float* g, int dim, in StepScalars s) =>
        Kernels.AxpyKernel.Axpy(-s.LearningRate, g, w, dim);
}

public readonly unsafe struct AdagradUpdate : IRowUpdate
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Apply(float* w, float* G, float* g, int dim, in StepScalars s)
    {
        int d = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var lr = Vector256.Create(s.LearningRate);
            var eps = Vector256.Create(s.Epsilon);
            for (; d + 8 <= dim; d += 8)
            {
                var gv = Vector256.Load(g + d);
                var acc = Vector256.FusedMultiplyAdd(gv, gv, Vector256.Load(G + d));
                acc.Store(G + d);
                (Vector256.Load(w + d) - lr * gv / (Vector256.Sqrt(acc) + eps)).Store(w + d);
            }
        }
        for (; d < dim; d++)
        {
            G[d] += g[d] * g[d];
            w[d] -= s.LearningRate * g[d] / (MathF.Sqrt(G[d]) + s.Epsilon);
        }
    }
}

public readonly unsafe struct RowWiseAdagradUpdate : IRowUpdate
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Apply(float* w, float* G, float* g, int dim, in StepScalars s)
    {
        float sumSq = System.Numerics.Tensors.TensorPrimitives.SumOfSquares(new ReadOnlySpan<float>(g, dim));
        float acc = G[0] + sumSq / dim;
        G[0] = acc;
        Kernels.AxpyKernel.Axpy(-s.LearningRate / (MathF.Sqrt(acc) + s.Epsilon), g, w, dim);
    }
}

public readonly unsafe struct AdamUpdate : IRowUpdate
{
    // State layout per row: [m_0 .. m_{dim-1} | v_0 .. v_{dim-1}].
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Apply(float* w, float* state, float* g, int dim, in StepScalars s)
    {
        float* m = state, v = state + dim;
        float b1 = s.Beta1, b2 = s.Beta2, c1 = 1f - b1, c2 = 1f - b2;
        float stepSize = s.LearningRate / s.BiasCorrection1;
        float invSqrtBc2 = 1f / MathF.Sqrt(s.BiasCorrection2);
        for (int d = 0; d < dim; d++)
        {
            float gd = g[d];
            float md = b1 * m[d] + c1 * gd;
            float vd = b2 * v[d] + c2 * gd * gd;
            m[d] = md;
            v[d] = vd;
            w[d] -= stepSize * md / (MathF.Sqrt(vd) * invSqrtBc2 + s.Epsilon);
        }
    }
}
