using System.Text.Json;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Towers.Sharding;

namespace RecsysEmbed.Cli.Commands;

/// <summary>Text and JSON forms of a sharding plan and of a step-time simulation.</summary>
internal static class ShardingReport
{
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = false, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static void Write(ShardingPlan plan, TextWriter o)
    {
        var t = plan.Topology;
        o.WriteLine($"{plan.Strategy} plan: {t.Hosts} hosts x {t.WorkersPerHost} workers = {t.Workers} workers, {plan.BatchPerWorker} samples per worker (global batch {plan.GlobalBatch:N0})");
        foreach (var tower in plan.Towers)
            o.WriteLine($"  tower {tower.Index}: hosts {t.HostOf(tower.Workers[0])}..{t.HostOf(tower.Workers[^1])}, {tower.Tables.Count} tables ({string.Join(" ", tower.Tables)}), {tower.InputFloats} floats in -> {tower.OutputFloats} out per sample");
        o.WriteLine($"  {"worker",6} {"host",4}  {"weights",10} {"opt state",10} {"lookup/step",12} {"intra out",10} {"intra in",10} {"inter out",10} {"inter in",10}  tables");
        for (int w = 0; w < t.Workers; w++)
        {
            var shards = plan.Shards.Where(s => s.Worker == w).ToArray();
            if (shards.Length == 0 && plan.Traffic.IntraSent(w) + plan.Traffic.InterSent(w) == 0) continue;
            string names = string.Join(" ", shards.Take(8).Select(s => s.Piece == "whole" ? s.Table : $"{s.Table}[{s.Piece}]")) + (shards.Length > 8 ? $" +{shards.Length - 8}" : "");
            o.WriteLine($"  {w,6} {t.HostOf(w),4}  {Bytes(plan.WorkerWeightBytes[w]),10} {Bytes(plan.WorkerOptimizerBytes[w]),10} {plan.WorkerLookupPerStep[w],12:N0} " +
                        $"{Bytes(plan.Traffic.IntraSent(w)),10} {Bytes(plan.Traffic.IntraReceived(w)),10} {Bytes(plan.Traffic.InterSent(w)),10} {Bytes(plan.Traffic.InterReceived(w)),10}  {names}");
        }
        o.WriteLine($"  max memory per worker {Bytes(plan.MaxWorkerMemoryBytes)} (weights + optimizer state); max lookup {plan.MaxWorkerLookupPerStep:N0} floats per step");
        o.WriteLine($"  traffic per step: intra-host {Bytes(plan.Traffic.IntraBytes)}, inter-host {Bytes(plan.Traffic.InterBytes)} (ids in, pooled or tower outputs out, gradients back)");
        o.WriteLine($"  per sample: {plan.BoundaryBytesPerSample:N1} B cross the embedding/dense boundary; {plan.IntraBytesPerSample:N1} B intra-host, {plan.InterBytesPerSample:N1} B inter-host");
    }

    public static object Json(ShardingPlan plan) => new
    {
        strategy = plan.Strategy,
        hosts = plan.Topology.Hosts,
        workers_per_host = plan.Topology.WorkersPerHost,
        batch_per_worker = plan.BatchPerWorker,
        towers = plan.Towers.Select(t => new { t.Index, t.Tables, t.Workers, t.InputFloats, t.OutputFloats }),
        shards = plan.Shards.Select(s => new { s.Table, s.Worker, host = plan.Topology.HostOf(s.Worker), s.Piece, s.WeightBytes, s.OptimizerBytes, s.LookupPerSample, s.Tower }),
        workers = Enumerable.Range(0, plan.Topology.Workers).Select(w => new
        {
            worker = w, weight_bytes = plan.WorkerWeightBytes[w], optimizer_bytes = plan.WorkerOptimizerBytes[w], lookup_per_step = plan.WorkerLookupPerStep[w],
            intra_sent = plan.Traffic.IntraSent(w), intra_received = plan.Traffic.IntraReceived(w), inter_sent = plan.Traffic.InterSent(w), inter_received = plan.Traffic.InterReceived(w),
        }),
        max_worker_memory_bytes = plan.MaxWorkerMemoryBytes,
        intra_bytes_per_step = plan.Traffic.IntraBytes,
        inter_bytes_per_step = plan.Traffic.InterBytes,
        boundary_bytes_per_sample = plan.BoundaryBytesPerSample,
        intra_bytes_per_sample = plan.IntraBytesPerSample,
        inter_bytes_per_sample = plan.InterBytesPerSample,
    };

    public static void WriteSimulation(ModelConfig model, int tables, SimulatorAssumptions a, IReadOnlyList<SimulatedScale> results, TextWriter o)
    {
        o.WriteLine($"model {model.Name}: {tables} tables, dim {model.EmbeddingDim}; {a.BatchPerWorker} samples per worker; {a.WorkersPerHost} workers per host");
        o.WriteLine($"assumptions: intra-host {a.IntraHostGBytesPerSecond} GB/s + {a.IntraHostLatencyMicroseconds} us/peer, inter-host {a.InterHostGbitsPerSecond} Gb/s + {a.InterHostLatencyMicroseconds} us/peer per worker; " +
                    $"lookup {a.LookupGBytesPerSecond} GB/s, dense {a.DenseTflops} TFLOP/s per worker; no overlap of communication and compute; " +
                    $"DMT tower module {TowerModule(a)}");
        o.WriteLine($"  {"workers",7} {"hosts",5} {"towers",6}  {"flat ms",8} {"(lookup/dense/a2a/allreduce)",-36}  {"DMT ms",8} {"(lookup/dense/a2a/allreduce)",-36}  {"speedup",7}  inter B/sample flat -> DMT");
        foreach (var r in results)
            o.WriteLine($"  {r.Workers,7} {r.Hosts,5} {r.Towers,6}  {Ms(r.Flat.Total),8} {"(" + Parts(r.Flat) + ")",-36}  {Ms(r.Dmt.Total),8} {"(" + Parts(r.Dmt) + ")",-36}  {r.Speedup,6:F2}x  {r.FlatInterBytesPerSample:N0} -> {r.DmtInterBytesPerSample:N0}");
    }

    private static string TowerModule(SimulatorAssumptions a) => a.TowerModule.Kind == Towers.TowerModuleKind.Identity
        ? "identity" : $"{Towers.TowerModuleConfig.Name(a.TowerModule.Kind)} to {a.TowerModule.OutputVectors} vectors";
    private static string Parts(StepTime s) => $"{Ms(s.Lookup)}/{Ms(s.Dense)}/{Ms(s.AllToAll)}/{Ms(s.AllReduce)}";
    private static string Ms(double seconds) => $"{seconds * 1e3:F3}";
    private static string Bytes(double bytes) => bytes == 0 ? "0" : ByteSize.Format((long)Math.Round(bytes));
}
