using RecsysEmbed.Core.Config;

namespace RecsysEmbed.Towers.Sharding;

/// <summary>
/// One piece of a table on one worker. Per training sample of the whole cluster it gathers LookupPerSample floats,
/// receives IdBytesPerSample of ids and lengths, and returns OutputFloatsPerSample pooled floats (the same number of
/// gradient floats come back in backward).
/// </summary>
public sealed record TableShard(string Table, int Worker, string Piece, long WeightBytes, long OptimizerBytes,
                                double LookupPerSample, double IdBytesPerSample, double OutputFloatsPerSample, int Tower = -1)
{
    public long MemoryBytes => WeightBytes + OptimizerBytes;
}

/// <summary>A DMT tower as placed: its tables, its workers, and the floats per sample its tower module sends out.</summary>
public sealed record TowerPlacement(int Index, IReadOnlyList<string> Tables, IReadOnlyList<int> Workers, int InputFloats, int OutputFloats);

/// <summary>
/// Where every table (or table shard) lives on a cluster, and what that costs per training step with
/// <see cref="BatchPerWorker"/> samples on each worker (global batch = Workers x BatchPerWorker):
/// memory per worker (weights + optimizer state), lookup floats per worker, and the step's traffic in
/// <see cref="Traffic"/> (ids in, pooled embeddings out, gradients back; intra- and inter-host apart).
/// </summary>
public sealed class ShardingPlan
{
    public ShardingPlan(string strategy, ClusterTopology topology, int batchPerWorker, IReadOnlyList<TableShard> shards,
                        TrafficLedger traffic, double boundaryBytesPerSample, IReadOnlyList<TowerPlacement>? towers = null)
    {
        Strategy = strategy;
        Topology = topology;
        BatchPerWorker = batchPerWorker;
        Shards = shards;
        Traffic = traffic;
        BoundaryBytesPerSample = boundaryBytesPerSample;
        Towers = towers ?? [];
        WorkerWeightBytes = new long[topology.Workers];
        WorkerOptimizerBytes = new long[topology.Workers];
        WorkerLookupPerStep = new double[topology.Workers];
        long global = GlobalBatch;
        foreach (var s in shards)
        {
            WorkerWeightBytes[s.Worker] += s.WeightBytes;
            WorkerOptimizerBytes[s.Worker] += s.OptimizerBytes;
            WorkerLookupPerStep[s.Worker] += s.LookupPerSample * global;
        }
    }

    public string Strategy { get; }
    public ClusterTopology Topology { get; }
    public int BatchPerWorker { get; }
    public long GlobalBatch => (long)BatchPerWorker * Topology.Workers;
    public IReadOnlyList<TableShard> Shards { get; }
    public IReadOnlyList<TowerPlacement> Towers { get; }
    public TrafficLedger Traffic { get; }
    public long[] WorkerWeightBytes { get; }
    public long[] WorkerOptimizerBytes { get; }
    /// <summary>Floats each worker gathers per step (batch x pooling x dim over its shards).</summary>
    public double[] WorkerLookupPerStep { get; }
    public long MaxWorkerMemoryBytes => Enumerable.Range(0, Topology.Workers).Max(w => WorkerWeightBytes[w] + WorkerOptimizerBytes[w]);
    public double MaxWorkerLookupPerStep => WorkerLookupPerStep.Max();

    /// <summary>
    /// Bytes per sample that cross the boundary between the embedding side (tables, or towers) and the sample's
    /// dense model, wherever the two sit: ids and lengths in, then pooled vectors (flat) or tower outputs (DMT) out
    /// and their gradients back. This is what a running tower executor counts.
    /// </summary>
    public double BoundaryBytesPerSample { get; }
    public double IntraBytesPerSample => Traffic.IntraBytes / GlobalBatch;
    public double InterBytesPerSample => Traffic.InterBytes / GlobalBatch;

    /// <summary>Throws <see cref="ConfigException"/> naming the fullest worker when any worker holds more than <paramref name="memoryPerWorkerBytes"/>.</summary>
    public void EnsureFits(long memoryPerWorkerBytes)
    {
        for (int w = 0; w < Topology.Workers; w++)
        {
            long used = WorkerWeightBytes[w] + WorkerOptimizerBytes[w];
            if (used <= memoryPerWorkerBytes) continue;
            int fullest = Enumerable.Range(0, Topology.Workers).MaxBy(i => WorkerWeightBytes[i] + WorkerOptimizerBytes[i]);
            long most = WorkerWeightBytes[fullest] + WorkerOptimizerBytes[fullest];
            var tables = Shards.Where(s => s.Worker == fullest).Select(s => s.Table).Distinct();
            throw new ConfigException("memory_per_worker",
                $"--memory-per-worker: {ByteSize.Format(memoryPerWorkerBytes)} is too small for the {Strategy} plan: worker {fullest} (host {Topology.HostOf(fullest)}) needs " +
                $"{ByteSize.Format(most)} (weights {ByteSize.Format(WorkerWeightBytes[fullest])} + optimizer state {ByteSize.Format(WorkerOptimizerBytes[fullest])}) for {string.Join(", ", tables)}; " +
                "add workers, shard row-wise, or shrink the tables.");
        }
    }
}
