using System.Buffers;

namespace RecsysEmbed.Training.Metrics;

/// <summary>
/// Exact ROC AUC: the probability that a random positive scores above a random negative, ties counting half.
/// <code>
///   AUC = ( #{(i, j) : y_i = 1, y_j = 0, s_i > s_j} + 0.5 * #{(i, j) : y_i = 1, y_j = 0, s_i = s_j} ) / (P * N)
/// </code>
/// This is the Mann-Whitney U statistic with average ranks for ties, divided by P * N. Computed in
/// O(n log n) by one sort of packed (score, label) keys and one pass over groups of equal score; the pair count
/// is kept as an exact integer, so the only rounding is the final division.
/// </summary>
public static class Auc
{
    /// <summary>
    /// Exact AUC of <paramref name="predictions"/> (any scores: probabilities or logits, not NaN) against
    /// 0/1 <paramref name="labels"/>. Returns <see cref="double.NaN"/> when the input is empty or holds one class
    /// only: AUC is undefined there. Scratch (8 bytes per sample) comes from <see cref="ArrayPool{T}"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Lengths differ, a prediction is NaN, or a label is not 0 or 1.</exception>
    public static double Exact(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
    {
        MetricInput.Validate(predictions, labels, probabilities: false);
        int n = predictions.Length;
        if (n == 0) return double.NaN;
        ulong[] rented = ArrayPool<ulong>.Shared.Rent(n);
        try
        {
            var keys = rented.AsSpan(0, n);
            for (int i = 0; i < n; i++) keys[i] = MetricInput.PairKey(predictions[i], labels[i]);
            return FromKeys(keys);
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// AUC of packed keys (<see cref="MetricInput.PairKey"/>); sorts <paramref name="keys"/> in place.
    /// Walking scores upwards, a group of equal scores with p positives and m negatives adds
    /// p * (negatives below) + p * m / 2 to U; 2U is summed as an integer (2U &lt;= 2PN &lt;= n^2 / 2 &lt; 2^61 for n &lt; 2^31).
    /// </summary>
    internal static double FromKeys(Span<ulong> keys)
    {
        keys.Sort();
        long twiceU = 0, negativesBelow = 0, positives = 0;
        int i = 0;
        while (i < keys.Length)
        {
            ulong score = keys[i] >> 1;
            long groupPositives = 0, groupNegatives = 0;
            for (; i < keys.Length && keys[i] >> 1 == score; i++)
            {
                if ((keys[i] & 1) != 0) groupPositives++;
                else groupNegatives++;
            }
            twiceU += groupPositives * (2 * negativesBelow + groupNegatives);
            negativesBelow += groupNegatives;
            positives += groupPositives;
        }
        long negatives = negativesBelow;
        if (positives == 0 || negatives == 0) return double.NaN;
        return twiceU / (2.0 * positives * negatives);
    }
}
