using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Towers.Planning;
using RecsysEmbed.Towers.Sharding;

namespace RecsysEmbed.Tests.Sharding;

/// <summary>Sharding plans: every byte of every table placed once, and traffic figures checked against hand counts.</summary>
public class ShardingPlanTests
{
    // Four tables of different sizes, dim 8, one id per bag; sparse optimizer rowwise adagrad (1 state float per row).
    private static IReadOnlyList<TableCost> Tables()
    {
        var config = ModelConfig.Parse("""
            name: shard-test
            embedding_dim: 8
            sparse_features:
              - {name: A, cardinality: 1000}
              - {name: B, cardinality: 100}
              - {name: C, cardinality: 10}
              - {name: D, cardinality: 5000}
            default_table: {family: full}
            optimizer: {kind: rowwise_adagrad, learning_rate: 0.1}
            """);
        return CostEstimator.Estimate(EmbeddingPlan.Create(config));
    }

    private static readonly ClusterTopology TwoByFour = new(hosts: 2, workersPerHost: 4);

    [Fact]
    public void CostEstimator_CountsIdsLookupsAndMemoryPerTable()
    {
        var a = Tables()[0];
        Assert.Equal(1.0, a.IdsPerSample);
        Assert.Equal(8.0, a.LookupPerSample);
        Assert.Equal(8 + 4, a.IdBytesPerSample);
        Assert.Equal(1000L * 8 * 4, a.WeightBytes);
        Assert.Equal(1000L * 1 * 4, a.OptimizerBytes);
    }

    [Theory]
    [InlineData("table-wise")]
    [InlineData("row-wise")]
    [InlineData("column-wise")]
    [InlineData("tower")]
    public void EveryStrategy_PlacesAllMemoryOnce(string strategy)
    {
        var tables = Tables();
        var plan = Strategy(strategy).Plan(tables, TwoByFour, batchPerWorker: 32);
        long expected = tables.Sum(t => t.MemoryBytes);
        long placed = plan.WorkerWeightBytes.Sum() + plan.WorkerOptimizerBytes.Sum();
        Assert.InRange(placed, expected - tables.Count * 4, expected); // column splits round down by at most a float per table
        Assert.Equal(tables.Sum(t => t.LookupPerSample) * plan.GlobalBatch, plan.WorkerLookupPerStep.Sum(), 6);
    }

    [Fact]
    public void TableWise_TrafficIsIdsPooledAndGradientsBetweenOwnerAndEveryOtherWorker()
    {
        var tables = Tables();
        var plan = new TableWiseSharding().Plan(tables, TwoByFour, batchPerWorker: 32);
        // Each table: 7 other workers x 32 samples x (12 B ids + 2 x 32 B pooled/gradient); 3 of them on the owner's host.
        double perTable = 32 * (12 + 2 * 32.0);
        Assert.Equal(tables.Count * 7 * perTable, plan.Traffic.TotalBytes, 6);
        Assert.Equal(tables.Count * 3 * perTable, plan.Traffic.IntraBytes, 6);
        Assert.Equal(tables.Count * (12 + 64.0), plan.BoundaryBytesPerSample, 6);
        // Four tables on eight workers: no worker holds two.
        Assert.Equal(4, plan.Shards.Select(s => s.Worker).Distinct().Count());
    }

    [Fact]
    public void Tower_KeepsPooledEmbeddingsInsideTheHostAndSendsOnlyTowerOutputsAcross()
    {
        var tables = Tables();
        // Two towers (one per host), each emitting 1 vector of 8 floats instead of 2 x 8.
        var towers = new TowerSharding(2, [0, 1, 0, 1], inputs => 8).Plan(tables, TwoByFour, batchPerWorker: 32);
        var flat = new TableWiseSharding().Plan(tables, TwoByFour, batchPerWorker: 32);
        // Inter-host: ids from the 4 workers of the other host to each table (as flat), plus tower outputs and their
        // gradients for the other host's 128 samples: 2 towers x 128 x 2 x 32 B.
        double ids = tables.Count * 4 * 32 * 12.0;
        Assert.Equal(ids + 2 * 128 * 2 * 32.0, towers.Traffic.InterBytes, 6);
        Assert.True(towers.Traffic.InterBytes < flat.Traffic.InterBytes);
        Assert.Equal(tables.Count * 12.0 + 2 * 2 * 32.0, towers.BoundaryBytesPerSample, 6);
        Assert.All(towers.Shards, s => Assert.Equal(s.Tower, TwoByFour.HostOf(s.Worker)));
    }

    [Fact]
    public void RowWise_SplitsEveryTableEvenlyAndSendsEachIdToOneShard()
    {
        var tables = Tables();
        var plan = new RowWiseSharding().Plan(tables, TwoByFour, batchPerWorker: 32);
        Assert.Equal(tables.Count * 8, plan.Shards.Count);
        // Every worker holds an eighth of every table (to the byte, rounding aside).
        long total = tables.Sum(t => t.MemoryBytes);
        Assert.All(Enumerable.Range(0, 8), w => Assert.InRange(plan.WorkerWeightBytes[w] + plan.WorkerOptimizerBytes[w], total / 8 - 8, total / 8 + 8));
        // One id per bag: each sample's id lands on one of 8 shards, which returns the whole pooled vector, so per
        // sample ids and pooled floats total as table-wise; only the bag lengths go to every shard (8 x 4 B).
        Assert.Equal(tables.Count * (8 + 8 * 4 + 2 * 32.0), plan.BoundaryBytesPerSample, 6);
    }

    [Fact]
    public void ColumnWise_SplitsColumnsAndSendsEveryIdToEachBlock()
    {
        var tables = Tables();
        var plan = new ColumnWiseSharding(pieces: 2).Plan(tables, TwoByFour, batchPerWorker: 32);
        Assert.Equal(tables.Count * 2, plan.Shards.Count);
        Assert.All(tables, t => Assert.Equal(2, plan.Shards.Where(s => s.Table == t.Table).Select(s => s.Worker).Distinct().Count()));
        // Ids (12 B) to both blocks, 4 + 4 columns back and as gradients.
        Assert.Equal(tables.Count * (2 * 12 + 2 * 8 * 4.0), plan.BoundaryBytesPerSample, 6);
    }

    [Fact]
    public void Tower_RefusesATowerCountThatDoesNotDivideTheHosts()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TowerSharding(3, [0, 1, 2, 0], i => i).Plan(Tables(), TwoByFour, 32));
        Assert.Contains("--towers: 3", e.Message);
    }

    [Fact]
    public void EnsureFits_NamesTheFullestWorkerAndItsBytes()
    {
        var plan = new TableWiseSharding().Plan(Tables(), TwoByFour, batchPerWorker: 32);
        plan.EnsureFits(1 << 20);
        var e = Assert.Throws<ConfigException>(() => plan.EnsureFits(100_000));
        Assert.Contains("--memory-per-worker", e.Message);
        Assert.Contains("D", e.Message); // the 5000-row table: 180,000 bytes
    }

    private static IShardingStrategy Strategy(string name) => name switch
    {
        "table-wise" => new TableWiseSharding(),
        "row-wise" => new RowWiseSharding(),
        "column-wise" => new ColumnWiseSharding(2),
        _ => new TowerSharding(2, [0, 1, 1, 0], i => i / 2),
    };
}
