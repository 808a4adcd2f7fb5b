using RecsysEmbed.Towers.Planning;

namespace RecsysEmbed.Towers.Sharding;

/// <summary>
/// DMT tower placement: the hosts are split into <c>T</c> equal groups, tower t's tables are placed table-wise on
/// group t's workers, and the tower's module runs data parallel on those workers. One step:
/// <code>
///   ids          sample owner u  ──────────────►  table owner w (tower t)          (as table-wise)
///   pooled       w ──intra-host──► tower worker v (v handles 1/|tower| of the global batch)
///   tower output v ──► peer of v's local rank on u's host ──intra──► u              (inter-host only at this step)
///   backward     the same paths in reverse, gradient bytes = forward bytes
/// </code>
/// Pooled embeddings stay inside the tower's hosts; only the compressed tower outputs cross to other hosts.
/// </summary>
public sealed class TowerSharding : IShardingStrategy
{
    private readonly IReadOnlyList<int> _towerOfTable;
    private readonly Func<int, int> _outputFloats;

    /// <param name="towerOfTable">Tower index of each table, aligned with the tables given to <see cref="Plan"/>.</param>
    /// <param name="outputFloats">Floats per sample a tower's module emits, from the floats it takes in.</param>
    public TowerSharding(int towers, IReadOnlyList<int> towerOfTable, Func<int, int> outputFloats)
    {
        if (towers < 1) throw new ArgumentOutOfRangeException(nameof(towers), towers, $"--towers: {towers} must be >= 1.");
        for (int i = 0; i < towerOfTable.Count; i++)
            if (towerOfTable[i] < 0 || towerOfTable[i] >= towers)
                throw new ArgumentOutOfRangeException(nameof(towerOfTable), towerOfTable[i], $"tower of table {i}: {towerOfTable[i]} is not in [0, {towers}).");
        TowerCount = towers;
        _towerOfTable = towerOfTable;
        _outputFloats = outputFloats;
    }

    public int TowerCount { get; }
    public string Name => "tower";

    public ShardingPlan Plan(IReadOnlyList<TableCost> tables, ClusterTopology topology, int batchPerWorker)
    {
        if (tables.Count != _towerOfTable.Count)
            throw new ArgumentException($"{tables.Count} tables but a tower for {_towerOfTable.Count}.", nameof(tables));
        if (topology.Hosts % TowerCount != 0)
            throw new ArgumentOutOfRangeException(nameof(topology), topology.Hosts, $"--towers: {TowerCount} towers must divide the {topology.Hosts} hosts evenly (a tower is a group of whole hosts).");
        int hostsPerTower = topology.Hosts / TowerCount;
        int n = topology.Workers;
        var ledger = new TrafficLedger(topology);
        var shards = new List<TableShard>();
        var towers = new List<TowerPlacement>();
        double boundary = 0;
        for (int tower = 0; tower < TowerCount; tower++)
        {
            var workers = Enumerable.Range(tower * hostsPerTower * topology.WorkersPerHost, hostsPerTower * topology.WorkersPerHost).ToArray();
            var mine = Enumerable.Range(0, tables.Count).Where(i => _towerOfTable[i] == tower).ToArray();
            var owners = Placement.Balance(mine.Select(i => (tables[i].MemoryBytes, tables[i].LookupPerSample)).ToArray(), workers);
            int inputFloats = mine.Sum(i => tables[i].OutputFloats);
            int outputFloats = mine.Length == 0 ? 0 : _outputFloats(inputFloats);
            double samplesPerTowerWorker = (double)batchPerWorker * n / workers.Length;
            for (int k = 0; k < mine.Length; k++)
            {
                var t = tables[mine[k]];
                var shard = new TableShard(t.Table, owners[k], "whole", t.WeightBytes, t.OptimizerBytes, t.LookupPerSample, t.IdBytesPerSample, t.OutputFloats, tower);
                shards.Add(shard);
                for (int u = 0; u < n; u++) ledger.Add(u, shard.Worker, batchPerWorker * t.IdBytesPerSample);
                foreach (int v in workers)
                {
                    double pooled = samplesPerTowerWorker * t.OutputFloats * sizeof(float);
                    ledger.Add(shard.Worker, v, pooled);
                    ledger.Add(v, shard.Worker, pooled);
                }
                boundary += t.IdBytesPerSample;
            }
            if (mine.Length == 0) { towers.Add(new TowerPlacement(tower, [], workers, 0, 0)); continue; }
            double perOwner = (double)batchPerWorker / workers.Length * outputFloats * sizeof(float);
            foreach (int v in workers)
            {
                for (int u = 0; u < n; u++)
                {
                    ledger.AddViaPeer(v, u, perOwner);
                    ledger.AddViaPeer(u, v, perOwner);
                }
            }
            boundary += 2.0 * outputFloats * sizeof(float);
            towers.Add(new TowerPlacement(tower, mine.Select(i => tables[i].Table).ToArray(), workers, inputFloats, outputFloats));
        }
        return new ShardingPlan(Name, topology, batchPerWorker, shards, ledger, boundary, towers);
    }
}
