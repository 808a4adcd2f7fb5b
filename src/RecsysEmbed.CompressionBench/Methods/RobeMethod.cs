namespace RecsysEmbed.CompressionBench;

/// <summary>ROBE-Z: every feature reads blocks of Z = dim / 2 weights from one shared array of budget / 4 B weights.</summary>
public sealed class RobeMethod : ICompressionMethod
{
    public string Name => "robe";
    public string Description => "ROBE-Z: one shared weight array read in hashed blocks";

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
        int block = Math.Max(1, model.Dim / 2);
        string tables = $"default_table: {{family: robe, block: {block}}}\n";
        var plan = model.Plan(tables, budgetBytes);
        var t = (RecsysEmbed.Core.Config.Planning.RobeTablePlan)plan.Tables[0];
        return new MethodSolution(true, tables, budgetBytes, [SuiteModel.P("array_weights", t.Size), SuiteModel.P("block", block)], plan.Total.WeightBytes, null);
    }
}
