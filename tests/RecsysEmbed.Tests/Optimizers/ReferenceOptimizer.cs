using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Optimizers;

/// <summary>
/// The formulas of <see cref="SparseOptimizerKind"/>, written out element by element in double precision over a
/// dense copy of one matrix. State uses the layout of <see cref="EmbeddingMatrix.StateRow"/>:
/// <code>
///   SGD             (none)
///   Adagrad         [ G_0 .. G_{dim-1} ]
///   RowWiseAdagrad  [ G_r ]
///   Adam            [ m_0 .. m_{dim-1} | v_0 .. v_{dim-1} ]
/// </code>
/// <see cref="Step"/> takes one summed gradient per row and advances the global step t by one, like one
/// backward of a table.
/// </summary>
internal sealed class ReferenceOptimizer
{
    private readonly SparseOptimizerSettings _s;

    public ReferenceOptimizer(SparseOptimizerSettings settings, EmbeddingMatrix matrix)
    {
        _s = settings;
        Rows = matrix.Rows;
        Dim = matrix.Dim;
        StateWidth = settings.StateWidth(Dim);
        Weights = Array.ConvertAll(matrix.CopyWeights(), x => (double)x);
        State = new double[Rows * StateWidth];
        for (long r = 0; r < Rows && StateWidth > 0; r++)
        {
            var row = matrix.StateRow(r);
            for (int k = 0; k < StateWidth; k++) State[r * StateWidth + k] = row[k];
        }
        StepCount = matrix.StepCount;
    }

    public long Rows { get; }
    public int Dim { get; }
    public int StateWidth { get; }
    public double[] Weights { get; }
    public double[] State { get; }
    public long StepCount { get; private set; }

    /// <summary>
    /// One optimizer step: each listed row is updated once with its (already summed) gradient. Like the matrix, which
    /// is not stepped when a backward touched none of its rows, an empty step leaves t alone.
    /// </summary>
    public void Step(IReadOnlyDictionary<long, double[]> gradients)
    {
        if (gradients.Count == 0) return;
        StepCount++;
        double lr = _s.LearningRate, eps = _s.Epsilon;
        foreach (var (row, g) in gradients)
        {
            long w0 = row * Dim, s0 = row * StateWidth;
            switch (_s.Kind)
            {
                case SparseOptimizerKind.Sgd:
                    for (int d = 0; d < Dim; d++) Weights[w0 + d] -= lr * g[d];
                    break;
                case SparseOptimizerKind.Adagrad:
                    for (int d = 0; d < Dim; d++)
                    {
                        State[s0 + d] += g[d] * g[d];
                        Weights[w0 + d] -= lr * g[d] / (Math.Sqrt(State[s0 + d]) + eps);
                    }
                    break;
                case SparseOptimizerKind.RowWiseAdagrad:
                {
                    double meanSq = 0;
                    for (int d = 0; d < Dim; d++) meanSq += g[d] * g[d];
                    State[s0] += meanSq / Dim;
                    for (int d = 0; d < Dim; d++) Weights[w0 + d] -= lr * g[d] / (Math.Sqrt(State[s0]) + eps);
                    break;
                }
                case SparseOptimizerKind.Adam:
                {
                    double b1 = _s.Beta1, b2 = _s.Beta2;
                    double bc1 = 1 - Math.Pow(b1, StepCount), bc2 = 1 - Math.Pow(b2, StepCount);
                    for (int d = 0; d < Dim; d++)
                    {
                        double m = State[s0 + d] = b1 * State[s0 + d] + (1 - b1) * g[d];
                        double v = State[s0 + Dim + d] = b2 * State[s0 + Dim + d] + (1 - b2) * g[d] * g[d];
                        Weights[w0 + d] -= lr * (m / bc1) / (Math.Sqrt(v / bc2) + eps);
                    }
                    break;
                }
                default:
                    throw new ArgumentOutOfRangeException(nameof(gradients), _s.Kind, "unknown optimizer");
            }
        }
    }

    /// <summary>Asserts that the matrix's weights and state match this reference row by row.</summary>
    public void AssertMatches(EmbeddingMatrix matrix, string what, double relTol = 1e-4, double absTol = 1e-6, bool checkStepCount = true)
    {
        if (checkStepCount) Assert.Equal(StepCount, matrix.StepCount);
        for (long r = 0; r < Rows; r++)
        {
            Tables.TorchReference.AssertClose(Weights.AsSpan((int)(r * Dim), Dim), matrix.Row(r), $"{what}: weights of row {r}", relTol, absTol);
            if (StateWidth > 0)
                Tables.TorchReference.AssertClose(State.AsSpan((int)(r * StateWidth), StateWidth), matrix.StateRow(r), $"{what}: state of row {r}", relTol, absTol);
        }
    }
}
