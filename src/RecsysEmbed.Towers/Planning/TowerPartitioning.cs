using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;

namespace RecsysEmbed.Towers.Planning;

/// <summary>A partition next to its baselines of the same size: random (same tower sizes, many draws) and round-robin.</summary>
public sealed record PartitionComparison(
    TowerPlan Plan, int[] TowerOfTable, PartitionQuality Partitioner, PartitionQuality RoundRobin,
    double RandomKeptMean, double RandomKeptStdDev, double RandomLookupBalanceMean, double RandomMemoryBalanceMean, int RandomTrials,
    IReadOnlyList<TableCost> Tables, double[,] NodeWeights);

/// <summary>The `towers partition` pipeline: interaction strengths from a checkpoint, the balanced partition, and its baselines.</summary>
public static class TowerPartitioning
{
    public static PartitionComparison FromCheckpoint(ModelConfig config, string checkpointDir, int towers, double slack = 0.10, int randomTrials = 200, int seed = 1)
    {
        var (features, strength) = InteractionStrength.FromCheckpoint(config, checkpointDir, seed: seed);
        return Compare(EmbeddingPlan.Create(config), features, strength, towers, slack, randomTrials, seed);
    }

    public static PartitionComparison Compare(EmbeddingPlan plan, IReadOnlyList<string> features, double[,] strength, int towers, double slack, int randomTrials, int seed)
    {
        var tables = CostEstimator.Estimate(plan);
        var weights = FeatureEnumerator.NodeWeights(tables, features, strength);
        var towerOf = TowerPartitioner.Balanced(weights, tables, towers, slack);
        var random = new Random(seed);
        var draws = Enumerable.Range(0, randomTrials).Select(_ => TowerPartitioner.Evaluate(TowerPartitioner.RandomLike(towerOf, random), weights, tables, towers)).ToArray();
        double mean = draws.Length > 0 ? draws.Average(d => d.KeptShare) : double.NaN;
        double sd = draws.Length > 1 ? Math.Sqrt(draws.Sum(d => (d.KeptShare - mean) * (d.KeptShare - mean)) / (draws.Length - 1)) : 0;
        return new PartitionComparison(TowerPlan.FromAssignment(plan, towerOf), towerOf,
            TowerPartitioner.Evaluate(towerOf, weights, tables, towers),
            TowerPartitioner.Evaluate(TowerPartitioner.RoundRobin(tables.Count, towers), weights, tables, towers),
            mean, sd, draws.Length > 0 ? draws.Average(d => d.LookupBalance) : double.NaN, draws.Length > 0 ? draws.Average(d => d.MemoryBalance) : double.NaN,
            draws.Length, tables, weights);
    }
}
