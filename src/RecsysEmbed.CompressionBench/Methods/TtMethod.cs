using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.CompressionBench;

/// <summary>
/// TT-Rec: three-core tensor trains of rank r for every feature whose TT is smaller than its full table (small
/// features stay full). Solves the largest r up to <see cref="MaxRank"/> that fits.
/// </summary>
public sealed class TtMethod : ICompressionMethod
{
    /// <summary>
    /// Compute per lookup grows as r^2 (rank 16 already trains several times slower than a hashed table); beyond
    /// this the suite's time would be dominated by TT. Solutions at the cap say so (rank_capped=true).
    /// </summary>
    public const int MaxRank = 16;

    public string Name => "tt";
    public string Description => "TT-Rec: tensor-train cores of rank r";

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
        bool UsesTt(SuiteFeature f, long r) => TensorTrainTable.WeightCountOf(f.Cardinality, model.Dim, (int)r) < f.Cardinality * model.Dim;
        long Bytes(long r) => model.Sparse.Sum(f => UsesTt(f, r) ? TensorTrainTable.WeightCountOf(f.Cardinality, model.Dim, (int)r) : f.Cardinality * model.Dim) * sizeof(float);
        // A feature switches from TT to full only when full is smaller, so Bytes grows with r.
        long? rank = SuiteModel.LargestFitting(1, MaxRank, r => Bytes(r) <= budgetBytes);
        if (rank is null) return MethodSolution.Unreachable($"rank 1 already takes {Bytes(1):N0} bytes, over the budget of {budgetBytes:N0}");
        long r = rank.Value;
        string tables = model.PerFeatureTables(f => UsesTt(f, r) ? $"family: tt, rank: {r}" : "family: full");
        long bytes = model.WeightBytes(tables, null)!.Value;
        return new MethodSolution(true, tables, null,
            [SuiteModel.P("rank", r), SuiteModel.P("tt_tables", model.Sparse.Count(f => UsesTt(f, r))), SuiteModel.P("rank_capped", r == MaxRank)], bytes, null);
    }
}
