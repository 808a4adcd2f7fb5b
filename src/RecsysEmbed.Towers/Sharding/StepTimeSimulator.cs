using RecsysEmbed.Core.Config;
using RecsysEmbed.Towers.Planning;

namespace RecsysEmbed.Towers.Sharding;

/// <summary>
/// What the step-time estimate assumes: link speeds, per-message latencies, per-worker compute rates, and the
/// per-worker batch. Defaults describe a GPU cluster of 8 workers per host with NVLink-class links inside a host and
/// a 200 Gb/s NIC per worker between hosts.
/// </summary>
public sealed record SimulatorAssumptions
{
    public int WorkersPerHost { get; init; } = 8;
    public int BatchPerWorker { get; init; } = 512;
    /// <summary>Per worker, each direction (NVLink-class: about 300 GB/s usable of H100's 450 GB/s per direction).</summary>
    public double IntraHostGBytesPerSecond { get; init; } = 300;
    /// <summary>Per worker NIC, each direction, in gigabits per second (100 to 400 Gb/s).</summary>
    public double InterHostGbitsPerSecond { get; init; } = 200;
    public double IntraHostLatencyMicroseconds { get; init; } = 3;
    public double InterHostLatencyMicroseconds { get; init; } = 10;
    /// <summary>Effective bandwidth of random embedding-row gathers and fused row updates (HBM, well below peak).</summary>
    public double LookupGBytesPerSecond { get; init; } = 1000;
    /// <summary>Effective dense throughput of one worker on these small MLPs (far below tensor-core peak).</summary>
    public double DenseTflops { get; init; } = 50;
    /// <summary>Tower module of the DMT plan.</summary>
    public TowerModuleConfig TowerModule { get; init; } = new(TowerModuleKind.Projection, OutputVectors: 2);

    public void Validate()
    {
        void Positive(double v, string name) { if (!(v > 0)) throw new ArgumentOutOfRangeException(name, v, $"{name}: {v} must be > 0."); }
        Positive(WorkersPerHost, "--workers-per-host");
        Positive(BatchPerWorker, "--batch-per-worker");
        Positive(IntraHostGBytesPerSecond, "--intra-gbytes");
        Positive(InterHostGbitsPerSecond, "--inter-gbits");
        Positive(LookupGBytesPerSecond, "--lookup-gbytes");
        Positive(DenseTflops, "--dense-tflops");
        if (IntraHostLatencyMicroseconds < 0 || InterHostLatencyMicroseconds < 0)
            throw new ArgumentOutOfRangeException(nameof(IntraHostLatencyMicroseconds), "latencies must be >= 0.");
    }
}

/// <summary>One plan's estimated step time, in seconds, by part.</summary>
public readonly record struct StepTime(double Lookup, double Dense, double AllToAll, double AllReduce)
{
    public double Total => Lookup + Dense + AllToAll + AllReduce;
}

/// <summary>Flat (table-wise) against DMT (tower) at one cluster size.</summary>
public sealed record SimulatedScale(int Workers, int Hosts, int Towers, StepTime Flat, StepTime Dmt, double FlatInterBytesPerSample, double DmtInterBytesPerSample)
{
    public double Speedup => Flat.Total / Dmt.Total;
}

/// <summary>
/// Estimates one training step's time from a sharding plan's figures, with nothing overlapped (a conservative
/// bound: real systems overlap some communication with compute, which favours neither plan in particular):
/// <code>
///   lookup     = 2 x max over workers (floats gathered x 4 B) / lookup bandwidth        (gather forward, fused update backward)
///   dense      = 3 x FLOPs per sample x samples on the worker / dense rate             (forward + 2 x backward)
///   all-to-all = max over workers max(sent, received) / link + distinct peers x latency, intra- and inter-host apart
///   all-reduce = hierarchical ring over the dense parameters: 2 (W-1)/W P 4 B / intra + 2 (H-1)/H P 4 B / W / inter
/// </code>
/// Flat: every table whole on one worker (table-wise, the usual choice for tables this size), and every worker
/// runs the whole dense model for its samples. DMT: towers of whole hosts; pooled vectors stay in the tower's hosts;
/// each tower worker runs its tower module for 1/|tower| of the global batch; the coordinator's global interaction
/// sees T x c vectors instead of F.
/// </summary>
public static class StepTimeSimulator
{
    public static SimulatedScale Simulate(ModelConfig config, IReadOnlyList<TableCost> tables, int workers, SimulatorAssumptions a, int? towers = null)
    {
        a.Validate();
        if (workers % a.WorkersPerHost != 0)
            throw new ArgumentOutOfRangeException(nameof(workers), workers, $"--workers: {workers} is not a multiple of {a.WorkersPerHost} workers per host.");
        int hosts = workers / a.WorkersPerHost;
        var topology = new ClusterTopology(hosts, a.WorkersPerHost);
        int t = towers ?? DefaultTowers(hosts, tables.Count);
        if (t < 1 || hosts % t != 0 || t > tables.Count)
            throw new ArgumentOutOfRangeException(nameof(towers), t, $"--towers: {t} must divide the {hosts} hosts and be at most the {tables.Count} tables.");

        int dim = config.EmbeddingDim;
        var flatPlan = new TableWiseSharding().Plan(tables, topology, a.BatchPerWorker);
        var towerOf = TowerPartitioner.Balanced(new double[tables.Count, tables.Count], tables, t);
        var dmtPlan = new TowerSharding(t, towerOf, inputs => a.TowerModule.OutputFloats(inputs, dim)).Plan(tables, topology, a.BatchPerWorker);

        int features = tables.Sum(x => x.Features.Count);
        var flatDense = DlrmFlops(config, features, tables.Sum(x => x.OutputFloats));
        var flat = new StepTime(Lookup(flatPlan, a), 3 * flatDense.Flops * a.BatchPerWorker / (a.DenseTflops * 1e12),
                                AllToAll(flatPlan, a), AllReduce(flatDense.Parameters, hosts, a));

        int vectors = dmtPlan.Towers.Sum(x => x.OutputFloats) / dim;
        var coordinator = DlrmFlops(config, vectors, vectors * dim);
        double towerSeconds = 0, towerAllReduce = 0;
        foreach (var tower in dmtPlan.Towers.Where(x => x.Tables.Count > 0))
        {
            int n = tower.Tables.Sum(name => tables.First(x => x.Table == name).Features.Count);
            var (flops, parameters) = ModuleFlops(a.TowerModule, tower.InputFloats, n, dim);
            double samples = (double)dmtPlan.GlobalBatch / tower.Workers.Count;
            towerSeconds = Math.Max(towerSeconds, 3 * flops * samples / (a.DenseTflops * 1e12));
            towerAllReduce = Math.Max(towerAllReduce, AllReduce(parameters, tower.Workers.Count / a.WorkersPerHost, a));
        }
        var dmt = new StepTime(Lookup(dmtPlan, a), 3 * coordinator.Flops * a.BatchPerWorker / (a.DenseTflops * 1e12) + towerSeconds,
                               AllToAll(dmtPlan, a), AllReduce(coordinator.Parameters, hosts, a) + towerAllReduce);
        return new SimulatedScale(workers, hosts, t, flat, dmt, flatPlan.InterBytesPerSample, dmtPlan.InterBytesPerSample);
    }

    /// <summary>One tower per host when there are enough tables, else the largest divisor of the host count that is at most the table count.</summary>
    public static int DefaultTowers(int hosts, int tables)
    {
        for (int t = Math.Min(hosts, tables); t > 1; t--) if (hosts % t == 0) return t;
        return 1;
    }

    private static double Lookup(ShardingPlan plan, SimulatorAssumptions a) => 2 * plan.MaxWorkerLookupPerStep * sizeof(float) / (a.LookupGBytesPerSecond * 1e9);

    private static double AllToAll(ShardingPlan plan, SimulatorAssumptions a)
    {
        var (intraPeers, interPeers) = plan.Traffic.MaxPeers();
        return plan.Traffic.MaxIntraBytes / (a.IntraHostGBytesPerSecond * 1e9) + intraPeers * a.IntraHostLatencyMicroseconds * 1e-6
             + plan.Traffic.MaxInterBytes / (a.InterHostGbitsPerSecond * 1e9 / 8) + interPeers * a.InterHostLatencyMicroseconds * 1e-6;
    }

    private static double AllReduce(long parameters, int hosts, SimulatorAssumptions a)
    {
        int w = a.WorkersPerHost;
        double bytes = parameters * 4.0;
        double intra = 2.0 * (w - 1) / w * bytes / (a.IntraHostGBytesPerSecond * 1e9);
        double inter = hosts > 1 ? 2.0 * (hosts - 1) / hosts * bytes / w / (a.InterHostGbitsPerSecond * 1e9 / 8) : 0;
        return intra + inter;
    }

    /// <summary>FLOPs per sample (forward) and parameters of a DLRM with the given number of d-wide vectors.</summary>
    internal static (double Flops, long Parameters) DlrmFlops(ModelConfig config, int vectors, int embeddingFloats)
    {
        int dim = config.EmbeddingDim;
        long parameters = 0;
        double flops = 0;
        void Mlp(int input, IEnumerable<int> sizes)
        {
            foreach (int s in sizes) { parameters += (long)input * s + s; flops += 2.0 * input * s; input = s; }
        }
        Mlp(Math.Max(config.DenseFeatures.Count, 1), config.Model.BottomMlp.Append(dim));
        int v = vectors + 1;
        int pairs = v * (v - 1) / 2;
        flops += 2.0 * v * v * dim;
        Mlp(dim + pairs, config.Model.TopMlp.Append(1));
        return (flops, parameters);
    }

    internal static (double Flops, long Parameters) ModuleFlops(TowerModuleConfig module, int inputFloats, int vectors, int dim)
    {
        int output = module.OutputFloats(inputFloats, dim);
        switch (module.Kind)
        {
            case TowerModuleKind.Identity: return (0, 0);
            case TowerModuleKind.Projection: return (2.0 * inputFloats * output, (long)inputFloats * output + output);
            default:
                int pairs = vectors * (vectors - 1) / 2;
                int hidden = module.Hidden;
                return (2.0 * vectors * vectors * dim + 2.0 * (inputFloats + pairs) * hidden + 2.0 * hidden * output,
                        (long)(inputFloats + pairs) * hidden + hidden + (long)hidden * output + output);
        }
    }
}
