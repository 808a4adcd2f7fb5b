using RecsysEmbed.Towers.Planning;

namespace RecsysEmbed.Towers.Sharding;

/// <summary>
/// Column-wise: each table split into <see cref="Pieces"/> column blocks (no narrower than <see cref="MinColumns"/>)
/// placed on different workers. Every block needs all of the table's ids and returns its columns.
/// </summary>
public sealed class ColumnWiseSharding(int pieces = 2, int minColumns = 4) : IShardingStrategy
{
    public int Pieces { get; } = pieces >= 1 ? pieces : throw new ArgumentOutOfRangeException(nameof(pieces), pieces, $"column pieces: {pieces} must be >= 1.");
    public int MinColumns { get; } = minColumns;
    public string Name => "column-wise";

    public ShardingPlan Plan(IReadOnlyList<TableCost> tables, ClusterTopology topology, int batchPerWorker)
    {
        var items = new List<(TableCost Table, int Piece, int Pieces, int Columns)>();
        foreach (var t in tables)
        {
            int k = Math.Clamp(Math.Min(Pieces, t.OutputFloats / Math.Max(MinColumns, 1)), 1, topology.Workers);
            for (int p = 0; p < k; p++)
            {
                int columns = t.OutputFloats / k + (p < t.OutputFloats % k ? 1 : 0);
                items.Add((t, p, k, columns));
            }
        }
        var owners = Placement.Balance(items.Select(i => ((long)((double)i.Table.MemoryBytes * i.Columns / i.Table.OutputFloats),
                                                          i.Table.LookupPerSample * i.Columns / i.Table.OutputFloats)).ToArray(),
                                       Placement.AllWorkers(topology));
        var ledger = new TrafficLedger(topology);
        var shards = new List<TableShard>();
        double boundary = 0;
        for (int i = 0; i < items.Count; i++)
        {
            var (t, p, k, columns) = items[i];
            double share = (double)columns / t.OutputFloats;
            var shard = new TableShard(t.Table, owners[i], $"columns {p + 1}/{k}", (long)(t.WeightBytes * share), (long)(t.OptimizerBytes * share),
                                       t.LookupPerSample * share, t.IdBytesPerSample, columns);
            shards.Add(shard);
            Placement.AddDirectTraffic(ledger, shard, batchPerWorker);
            boundary += t.IdBytesPerSample + 2.0 * columns * sizeof(float);
        }
        return new ShardingPlan(Name, topology, batchPerWorker, shards, ledger, boundary);
    }
}
