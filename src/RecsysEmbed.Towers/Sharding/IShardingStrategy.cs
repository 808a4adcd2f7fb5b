using RecsysEmbed.Towers.Planning;

namespace RecsysEmbed.Towers.Sharding;

/// <summary>
/// Places tables on a cluster and accounts for one training step's traffic. Every strategy uses the same step:
/// each worker owns BatchPerWorker samples and their dense model (data parallel); ids travel to the table
/// shards, pooled vectors travel back, and in backward their gradients retrace that path.
/// </summary>
public interface IShardingStrategy
{
    /// <summary>table-wise, row-wise, column-wise or tower.</summary>
    string Name { get; }
    ShardingPlan Plan(IReadOnlyList<TableCost> tables, ClusterTopology topology, int batchPerWorker);
}

/// <summary>Placement helpers shared by the strategies.</summary>
internal static class Placement
{
    /// <summary>
    /// Longest-processing-time placement: items by descending load onto the least loaded worker, load being the
    /// item's share of total memory plus its share of total lookup cost (so neither dominates by units).
    /// </summary>
    public static int[] Balance(IReadOnlyList<(long Memory, double Lookup)> items, IReadOnlyList<int> workers)
    {
        double memTotal = Math.Max(1, items.Sum(i => (double)i.Memory));
        double lookTotal = Math.Max(1e-12, items.Sum(i => i.Lookup));
        var load = new double[workers.Count];
        var placed = new int[items.Count];
        foreach (int i in Enumerable.Range(0, items.Count).OrderByDescending(i => items[i].Memory / memTotal + items[i].Lookup / lookTotal).ThenBy(i => i))
        {
            int best = 0;
            for (int w = 1; w < workers.Count; w++) if (load[w] < load[best]) best = w;
            load[best] += items[i].Memory / memTotal + items[i].Lookup / lookTotal;
            placed[i] = workers[best];
        }
        return placed;
    }

    /// <summary>Direct all-to-all: every worker sends its samples' ids to the shard and gets the pooled floats back (and gradients in backward).</summary>
    public static void AddDirectTraffic(TrafficLedger ledger, TableShard shard, int batchPerWorker)
    {
        int n = ledger.Topology.Workers;
        for (int u = 0; u < n; u++)
        {
            ledger.Add(u, shard.Worker, batchPerWorker * shard.IdBytesPerSample);
            ledger.Add(shard.Worker, u, batchPerWorker * shard.OutputFloatsPerSample * sizeof(float));
            ledger.Add(u, shard.Worker, batchPerWorker * shard.OutputFloatsPerSample * sizeof(float));
        }
    }

    public static int[] AllWorkers(ClusterTopology topology) => Enumerable.Range(0, topology.Workers).ToArray();
}
