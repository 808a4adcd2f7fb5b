namespace RecsysEmbed.CompressionBench;

/// <summary>Unified embedding: every feature multiplexed into one shared table of budget / (dim x 4 B) buckets.</summary>
public sealed class UeMethod : ICompressionMethod
{
    public string Name => "ue";
    public string Description => "unified embedding: all features share one hashed table";

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
        const string tables = "default_table: {family: ue}\n";
        var plan = model.Plan(tables, budgetBytes);
        var t = (RecsysEmbed.Core.Config.Planning.UnifiedTablePlan)plan.Tables[0];
        return new MethodSolution(true, tables, budgetBytes, [SuiteModel.P("buckets", t.Buckets)], plan.Total.WeightBytes, null);
    }
}
