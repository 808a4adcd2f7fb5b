using RecsysEmbed.Towers.Planning;

namespace RecsysEmbed.Tests.Towers;

/// <summary>The balanced partitioner on graphs whose best partition is known.</summary>
public class TowerPartitionerTests
{
    private static TableCost Node(int i, long memory = 1000, double lookup = 16) =>
        new($"T{i}", [$"F{i}"], 1, lookup, 16, memory, 0);

    /// <summary>Weight 1 inside the planted groups, 0.05 between.</summary>
    private static double[,] Planted(int[] group)
    {
        int n = group.Length;
        var w = new double[n, n];
        for (int a = 0; a < n; a++) for (int b = 0; b < n; b++) if (a != b) w[a, b] = group[a] == group[b] ? 1 : 0.05;
        return w;
    }

    [Fact]
    public void Balanced_RecoversPlantedGroupsOfEqualCost()
    {
        int[] group = [0, 0, 1, 2, 1, 0, 2, 2, 1, 0, 1, 2];
        var nodes = Enumerable.Range(0, group.Length).Select(i => Node(i)).ToArray();
        var weights = Planted(group);
        var towers = TowerPartitioner.Balanced(weights, nodes, 3);
        for (int a = 0; a < group.Length; a++)
            for (int b = 0; b < group.Length; b++)
                Assert.Equal(group[a] == group[b], towers[a] == towers[b]);
        var q = TowerPartitioner.Evaluate(towers, weights, nodes, 3);
        Assert.Equal(1.0, q.LookupBalance, 9);
        double expectedKept = 3 * 4 * 3 * 1.0 / (3 * 4 * 3 * 1.0 + 12 * 8 * 0.05);
        Assert.Equal(expectedKept, q.KeptShare, 9);
        // Round robin of this order splits the groups.
        Assert.True(TowerPartitioner.KeptShare(TowerPartitioner.RoundRobin(12, 3), weights) < 0.5);
    }

    [Fact]
    public void Balanced_RespectsTheLoadCapsEvenWhenTheGraphWantsOneTower()
    {
        // Every pair interacts equally: kept weight is largest with everything together, the caps must stop that.
        int n = 10;
        var nodes = Enumerable.Range(0, n).Select(i => Node(i, memory: 1000 * (i + 1))).ToArray();
        var weights = new double[n, n];
        for (int a = 0; a < n; a++) for (int b = 0; b < n; b++) if (a != b) weights[a, b] = 1;
        var towers = TowerPartitioner.Balanced(weights, nodes, 2, slack: 0.1);
        var q = TowerPartitioner.Evaluate(towers, weights, nodes, 2);
        Assert.InRange(q.LookupBalance, 1.0, 1.1 + 1e-9);
        Assert.InRange(q.MemoryBalance, 1.0, 1.1 + 1e-9);
        Assert.Equal(2, towers.Distinct().Count());
    }

    [Fact]
    public void RandomLike_KeepsTowerSizes()
    {
        int[] like = [0, 0, 0, 1, 1, 2];
        var random = TowerPartitioner.RandomLike(like, new Random(1));
        Assert.Equal(like.GroupBy(t => t).Select(g => g.Count()).Order(), random.GroupBy(t => t).Select(g => g.Count()).Order());
    }

    [Fact]
    public void Balanced_RefusesMoreTowersThanTables()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TowerPartitioner.Balanced(new double[2, 2], [Node(0), Node(1)], 3));
        Assert.Contains("--towers: 3", e.Message);
    }
}
