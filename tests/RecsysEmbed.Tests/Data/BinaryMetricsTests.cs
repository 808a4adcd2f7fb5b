using RecsysEmbed.Data.Metrics;

namespace RecsysEmbed.Tests.Data;

public class BinaryMetricsTests
{
    /// <summary>O(n^2) definition: P(score+ > score-) + P(tie) / 2.</summary>
    internal static double NaiveAuc(IReadOnlyList<double> scores, IReadOnlyList<byte> labels)
    {
        double wins = 0;
        long pairs = 0;
        for (int i = 0; i < scores.Count; i++)
        {
            if (labels[i] == 0) continue;
            for (int j = 0; j < scores.Count; j++)
            {
                if (labels[j] != 0) continue;
                pairs++;
                if (scores[i] > scores[j]) wins += 1;
                else if (scores[i] == scores[j]) wins += 0.5;
            }
        }
        return wins / pairs;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ExactAuc_MatchesThePairwiseDefinition_WithManyTies(int seed)
    {
        var rng = new Random(seed);
        int n = 501;
        var scores = Enumerable.Range(0, n).Select(_ => rng.Next(20) / 20.0).ToArray();   // heavy ties
        var labels = scores.Select(s => (byte)(rng.NextDouble() < 0.2 + 0.6 * s ? 1 : 0)).ToArray();
        Assert.Equal(NaiveAuc(scores, labels), BinaryMetrics.ExactAuc(scores, labels), 12);
    }

    [Fact]
    public void ExactAuc_EdgeCases()
    {
        Assert.Equal(1.0, BinaryMetrics.ExactAuc([0.1, 0.9], [0, 1]));
        Assert.Equal(0.0, BinaryMetrics.ExactAuc([0.9, 0.1], [0, 1]));
        Assert.Equal(0.5, BinaryMetrics.ExactAuc([0.3, 0.3, 0.3], [0, 1, 1]));
        Assert.True(double.IsNaN(BinaryMetrics.ExactAuc([0.3, 0.4], [1, 1])));
    }

    [Fact]
    public void LogLoss_MatchesTheFormula()
    {
        double expected = -(Math.Log(0.8) + Math.Log(1 - 0.3)) / 2;
        Assert.Equal(expected, BinaryMetrics.LogLoss([0.8, 0.3], [1, 0]), 12);
    }
}
