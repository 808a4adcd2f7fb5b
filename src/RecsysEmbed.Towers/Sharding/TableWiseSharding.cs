using RecsysEmbed.Towers.Planning;

namespace RecsysEmbed.Towers.Sharding;

/// <summary>Table-wise: each table whole on one worker, balanced by memory and lookup cost.</summary>
public sealed class TableWiseSharding : IShardingStrategy
{
    public string Name => "table-wise";

    public ShardingPlan Plan(IReadOnlyList<TableCost> tables, ClusterTopology topology, int batchPerWorker)
    {
        var owners = Placement.Balance(tables.Select(t => (t.MemoryBytes, t.LookupPerSample)).ToArray(), Placement.AllWorkers(topology));
        var ledger = new TrafficLedger(topology);
        var shards = new List<TableShard>();
        for (int i = 0; i < tables.Count; i++)
        {
            var t = tables[i];
            var shard = new TableShard(t.Table, owners[i], "whole", t.WeightBytes, t.OptimizerBytes, t.LookupPerSample, t.IdBytesPerSample, t.OutputFloats);
            shards.Add(shard);
            Placement.AddDirectTraffic(ledger, shard, batchPerWorker);
        }
        return new ShardingPlan(Name, topology, batchPerWorker, shards, ledger, tables.Sum(t => t.IdBytesPerSample + 2.0 * t.OutputFloats * sizeof(float)));
    }
}
