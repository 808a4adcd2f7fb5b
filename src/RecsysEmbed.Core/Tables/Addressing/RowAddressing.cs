using RecsysEmbed.Core.Config.Planning;

namespace RecsysEmbed.Core.Tables.Addressing;

/// <summary>The addressing of a planned table, built from the same sizes and seeds as <see cref="TablePlan.Build"/>.</summary>
public static class RowAddressing
{
    public static IRowAddressing For(TablePlan plan) => plan switch
    {
        FullTablePlan p => new FullAddressing(p.Name, p.Features, p.Rows, p.Config.Dim),
        HashTablePlan p => new HashedAddressing(p.Name, p.Features, p.Buckets, p.Config.Dim, p.Config.HashCount, p.Config.Combine, p.Seed),
        QrTablePlan p => new QuotientRemainderAddressing(p.Name, p.Features, p.Cardinality, p.Config.Dim, p.Radices, p.Config.Combine, p.Seed),
        MdTablePlan p => new MixedDimensionAddressing(p.Name, p.Features[0], p.Cardinality, p.Blocks, p.Config.Dim, p.Seed),
        UnifiedTablePlan p => new UnifiedAddressing(p.Name, p.Features, p.Config.Chunks, p.Buckets, p.Config.Dim, p.Seed),
        _ => throw new NotSupportedException($"table '{plan.Name}': family '{plan.Family}' has no row addressing yet, so it cannot be served (served: full, hash, qr, md, ue)."),
    };

    /// <summary>Addressing of every table of a plan, in plan order.</summary>
    public static IReadOnlyList<IRowAddressing> For(EmbeddingPlan plan) => plan.Tables.Select(For).ToArray();
}
