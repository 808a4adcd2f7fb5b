using System.Text.Json;
using System.Text.Json.Serialization;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Cli.Commands;

/// <summary>The plan as one JSON object (snake_case keys; bytes and parameter counts as integers).</summary>
internal static class PlanJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
    };

    public static void Write(EmbeddingPlan plan, TextWriter output) =>
        output.WriteLine(JsonSerializer.Serialize(Of(plan), Options));

    internal sealed record MemoryJson(long WeightParameters, long WeightBytes, long OptimizerParameters, long OptimizerBytes, long TotalBytes)
    {
        public static MemoryJson Of(TableMemory m) => new(m.WeightParameters, m.WeightBytes, m.OptimizerParameters, m.OptimizerBytes, m.TotalBytes);
    }

    internal sealed record FeatureJson(string Name, string Table, int OutputDim, int Column, string Pooling, bool Weighted, long? Cardinality, bool Dynamic);
    internal sealed record MatrixJson(string Name, long Rows, int Dim);
    internal sealed record TableJson(string Name, string Family, string Source, int OutputWidth, IReadOnlyList<string> Features, IReadOnlyList<MatrixJson> Matrices,
                                     long? Buckets, long? BudgetBytes, int? Hashes, string? Combine, IReadOnlyList<long>? Radices, MemoryJson Memory);
    internal sealed record BaselineJson(long Rows, int Dim, MemoryJson Memory, IReadOnlyList<string> EstimatedFeatures, IReadOnlyList<string> SkippedFeatures);
    internal sealed record PlanJsonRoot(string Name, int EmbeddingDim, long? MemoryBudgetBytes, string Optimizer, IReadOnlyList<TableJson> Tables,
                                       IReadOnlyList<FeatureJson> Features, MemoryJson Totals, BaselineJson Baseline, double CompressionRatio);

    internal static PlanJsonRoot Of(EmbeddingPlan plan)
    {
        var c = plan.Config;
        var tables = plan.Tables.Select(t => new TableJson(
            t.Name, t.Family, t.Source, t.OutputWidth, t.Features.Select(f => f.Name).ToArray(),
            t.Matrices.Select(m => new MatrixJson(m.Name, m.Rows, m.Dim)).ToArray(),
            t switch { HashTablePlan h => h.Buckets, UnifiedTablePlan u => u.Buckets, _ => null },
            t switch { HashTablePlan h => h.BudgetBytes, UnifiedTablePlan u => u.BudgetBytes, _ => null },
            (t as HashTablePlan)?.Config.HashCount,
            t switch { HashTablePlan h => Names.Of(h.Config.Combine), QrTablePlan q => Names.Of(q.Config.Combine), _ => null },
            (t as QrTablePlan)?.Radices,
            MemoryJson.Of(t.Memory))).ToArray();
        var features = c.SparseFeatures.Select(f =>
        {
            var t = plan.TableOf(f.Name);
            var slot = t.Features.First(s => s.Name == f.Name);
            return new FeatureJson(f.Name, t.Name, slot.OutputDim, slot.Column, Names.Of(f.Pooling), f.Weighted, f.Cardinality.Rows, f.Cardinality.IsDynamic);
        }).ToArray();
        var b = plan.Baseline;
        return new PlanJsonRoot(c.Name, c.EmbeddingDim, c.MemoryBudgetBytes, Names.Of(c.Optimizer.Kind), tables, features, MemoryJson.Of(plan.Total),
                                new BaselineJson(b.Rows, b.Dim, MemoryJson.Of(b.Memory), b.EstimatedFeatures, b.SkippedFeatures),
                                Math.Round(plan.CompressionRatio, 4));
    }
}
