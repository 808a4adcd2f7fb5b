using RecsysEmbed.Towers.Planning;

namespace RecsysEmbed.Towers.Sharding;

/// <summary>
/// Row-wise: every table's rows split evenly over all workers. An id goes to the worker owning its row; each
/// shard returns a partial pooled vector for every sample with at least one id there, so with bag length L over
/// N shards a sample's vector comes back in about N (1 - (1 - 1/N)^L) partial pieces (for L = 1: one piece).
/// </summary>
public sealed class RowWiseSharding : IShardingStrategy
{
    public string Name => "row-wise";

    public ShardingPlan Plan(IReadOnlyList<TableCost> tables, ClusterTopology topology, int batchPerWorker)
    {
        int n = topology.Workers;
        var ledger = new TrafficLedger(topology);
        var shards = new List<TableShard>();
        double boundary = 0;
        foreach (var t in tables)
        {
            double bagLength = t.Features.Count == 0 ? 0 : t.IdsPerSample / t.Features.Count;
            double touched = 1 - Math.Pow(1 - 1.0 / n, Math.Max(bagLength, 0));
            double outputs = t.OutputFloats * touched;
            double ids = 8 * t.IdsPerSample / n + 4 * t.Features.Count;
            for (int w = 0; w < n; w++)
            {
                var shard = new TableShard(t.Table, w, $"rows {w + 1}/{n}", Share(t.WeightBytes, w, n), Share(t.OptimizerBytes, w, n),
                                           t.LookupPerSample / n, ids, outputs);
                shards.Add(shard);
                Placement.AddDirectTraffic(ledger, shard, batchPerWorker);
            }
            boundary += n * (ids + 2.0 * outputs * sizeof(float));
        }
        return new ShardingPlan(Name, topology, batchPerWorker, shards, ledger, boundary);
    }

    private static long Share(long bytes, int worker, int workers) => bytes / workers + (worker < bytes % workers ? 1 : 0);
}
