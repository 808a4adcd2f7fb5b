namespace RecsysEmbed.Data.Metrics;

/// <summary>Exact binary-classification metrics over a whole sample (no binning).</summary>
public static class BinaryMetrics
{
    /// <summary>
    /// Exact ROC AUC with ties: the probability that a random positive scores above a random negative, counting a
    /// tie as one half. Sorts a copy (O(n log n), 9 bytes per sample). NaN when a class is absent.
    /// </summary>
    public static double ExactAuc(ReadOnlySpan<double> scores, ReadOnlySpan<byte> labels)
    {
        if (scores.Length != labels.Length) throw new ArgumentException($"scores ({scores.Length}) and labels ({labels.Length}) differ in length.");
        var keys = scores.ToArray();
        var items = labels.ToArray();
        Array.Sort(keys, items);
        double pairs = 0;
        long negativesBelow = 0, positives = 0;
        int i = 0;
        while (i < keys.Length)
        {
            int j = i;
            long pos = 0, neg = 0;
            while (j < keys.Length && keys[j] == keys[i])
            {
                if (items[j] != 0) pos++;
                else neg++;
                j++;
            }
            pairs += pos * (double)negativesBelow + 0.5 * pos * neg;
            negativesBelow += neg;
            positives += pos;
            i = j;
        }
        long negatives = negativesBelow;
        return positives == 0 || negatives == 0 ? double.NaN : pairs / ((double)positives * negatives);
    }

    /// <summary>Mean log loss, probabilities clamped to [1e-15, 1 - 1e-15].</summary>
    public static double LogLoss(ReadOnlySpan<double> probabilities, ReadOnlySpan<byte> labels)
    {
        if (probabilities.Length != labels.Length) throw new ArgumentException($"probabilities ({probabilities.Length}) and labels ({labels.Length}) differ in length.");
        if (probabilities.IsEmpty) return double.NaN;
        double sum = 0;
        for (int i = 0; i < probabilities.Length; i++) sum += PointLogLoss(probabilities[i], labels[i] != 0);
        return sum / probabilities.Length;
    }

    internal static double PointLogLoss(double p, bool positive)
    {
        p = Math.Clamp(p, 1e-15, 1 - 1e-15);
        return positive ? -Math.Log(p) : -Math.Log(1 - p);
    }
}
