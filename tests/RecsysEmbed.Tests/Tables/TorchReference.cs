using RecsysEmbed.Core.Tables;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// Autograd reference for the table families: every <see cref="EmbeddingMatrix"/> becomes a float64 leaf tensor
/// holding the same weights (float to double is exact), a test rebuilds the family's math in torch from the table's
/// own row mapping, pools per bag, and reads gradients back from the leaves.
/// <code>
///   per-id   N x D      one vector per id (gather, combine, project)
///   S        B x N      S[b, i] = scale_i when id i is in bag b (weight, / bag length for mean), else 0
///   pooled   B x D    = S . per-id                      empty bag: a zero row
/// </code>
/// Call inside <c>using var scope = torch.NewDisposeScope();</c> so the tensors are freed.
/// </summary>
internal static class TorchReference
{
    public const double RelTol = 1e-4;
    public const double AbsTol = 1e-6;

    /// <summary>A float64 leaf (Rows x Dim) with the matrix's current weights, requiring grad.</summary>
    public static Tensor Leaf(EmbeddingMatrix m)
    {
        float[] w = m.CopyWeights();
        return torch.tensor(Array.ConvertAll(w, x => (double)x), new long[] { m.Rows, m.Dim }, requires_grad: true);
    }

    /// <summary>One leaf per matrix of the table, keyed by the matrix (reference identity).</summary>
    public static Dictionary<EmbeddingMatrix, Tensor> Leaves(IEmbeddingTable table)
    {
        var leaves = new Dictionary<EmbeddingMatrix, Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var m in table.Matrices) leaves.Add(m, Leaf(m));
        return leaves;
    }

    /// <summary>Rows of <paramref name="m"/> selected by <paramref name="rows"/> (index_select, so grads scatter-add back).</summary>
    public static Tensor Gather(Tensor m, IEnumerable<long> rows)
    {
        long[] r = rows.ToArray();
        return m.index_select(0, torch.tensor(r, new long[] { r.Length }));
    }

    /// <summary>A float64 constant tensor of the given shape from float data.</summary>
    public static Tensor Constant(float[] data, long rows, long cols) =>
        torch.tensor(Array.ConvertAll(data, x => (double)x), new long[] { rows, cols });

    /// <summary>A float64 N x 1 column of 0/1 flags.</summary>
    public static Tensor Mask(IEnumerable<bool> flags)
    {
        double[] m = flags.Select(f => f ? 1.0 : 0.0).ToArray();
        return torch.tensor(m, new long[] { m.Length, 1 });
    }

    /// <summary>Pools per-id vectors per bag: out[b] = sum over bag b of scale_i * perId[i].</summary>
    public static Tensor Pool(Tensor perId, int[] offsets, float[]? weights, PoolingMode pooling)
    {
        int bags = offsets.Length - 1, n = offsets[^1] - offsets[0];
        var s = new double[bags * n];
        for (int b = 0; b < bags; b++)
        {
            int start = offsets[b] - offsets[0], end = offsets[b + 1] - offsets[0];
            for (int i = start; i < end; i++)
            {
                double scale = weights is null ? 1.0 : weights[i];
                if (pooling == PoolingMode.Mean) scale /= end - start;
                s[b * n + i] = scale;
            }
        }
        return torch.tensor(s, new long[] { bags, n }).matmul(perId);
    }

    /// <summary>Backpropagates sum(output * gradOutput) into the leaves.</summary>
    public static void BackwardOfDot(Tensor output, float[] gradOutput)
    {
        var g = Constant(gradOutput, output.shape[0], output.shape[1]);
        (output * g).sum().backward();
    }

    public static double[] ToArray(Tensor t) => t.contiguous().data<double>().ToArray();

    /// <summary>The leaf's gradient as a flat row-major array; zeros when the leaf got none.</summary>
    public static double[] GradOf(Tensor leaf)
    {
        var g = leaf.grad;
        return g is null ? new double[leaf.shape[0] * leaf.shape[1]] : ToArray(g);
    }

    /// <summary>|actual - expected| &lt;= AbsTol + RelTol * |expected| for every element.</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, string what,
                                   double relTol = RelTol, double absTol = AbsTol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            if (!(err <= absTol + relTol * Math.Abs(expected[i])))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R} (error {err:E2}).");
        }
    }

    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, string what,
                                   double relTol = RelTol, double absTol = AbsTol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            if (!(err <= absTol + relTol * Math.Abs(expected[i])))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R} (error {err:E2}).");
        }
    }
}
