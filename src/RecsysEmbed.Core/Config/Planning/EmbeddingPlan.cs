using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config.Planning;

/// <summary>
/// The tables a config describes, sized but not allocated: per table its family, matrices and memory (weights and
/// optimizer state apart), the model totals, and the full-table baseline they compress. Planning touches no table
/// memory, so it is instant even for a 2 GB model; <see cref="Build"/> allocates.
/// </summary>
public sealed class EmbeddingPlan
{
    internal EmbeddingPlan(ModelConfig config, IReadOnlyList<TablePlan> tables)
    {
        Config = config;
        Tables = tables;
        var total = default(TableMemory);
        foreach (var t in tables) total += t.Memory;
        Total = total;
        Baseline = BaselinePlan.Of(config);
    }

    public ModelConfig Config { get; }
    /// <summary>One plan per table, in config order (explicit tables first, then default_table's).</summary>
    public IReadOnlyList<TablePlan> Tables { get; }
    public TableMemory Total { get; }
    public BaselinePlan Baseline { get; }

    /// <summary>Baseline weight bytes over planned weight bytes (optimizer state left out of both).</summary>
    public double CompressionRatio => (double)Baseline.Memory.WeightBytes / Total.WeightBytes;

    /// <summary>
    /// Sizes every table of a validated config: buckets from memory budgets, widths from the mixed-dimension rule.
    /// Throws <see cref="ConfigException"/> when the budget cannot hold the tables.
    /// </summary>
    public static EmbeddingPlan Create(ModelConfig config) => EmbeddingPlanner.Plan(config);

    /// <summary>The table serving a feature.</summary>
    public TablePlan TableOf(string feature) =>
        Tables.FirstOrDefault(t => t.Features.Any(f => f.Name == feature)) ?? throw new KeyNotFoundException($"no table serves feature '{feature}'.");

    /// <summary>Allocates every table (<see cref="Total"/> bytes of native memory). The caller disposes them.</summary>
    public IReadOnlyList<IEmbeddingTable> Build()
    {
        var built = new List<IEmbeddingTable>(Tables.Count);
        try
        {
            foreach (var t in Tables) built.Add(t.Build());
            return built;
        }
        catch
        {
            foreach (var t in built) t.Dispose();
            throw;
        }
    }
}
