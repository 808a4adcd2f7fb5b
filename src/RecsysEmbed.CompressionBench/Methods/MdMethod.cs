namespace RecsysEmbed.CompressionBench;

/// <summary>
/// Mixed dimension (power law): width d_f = lambda n_f^-alpha, the rarest feature at embedding_dim. Solves the
/// temperature alpha (smallest on a 0.05 grid that fits) for the widest min_dim among 4, 2, 1 that can fit.
/// </summary>
public sealed class MdMethod : ICompressionMethod
{
    public string Name => "md";
    public string Description => "mixed dimension: power-law widths with projections";

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
        long smallest = long.MaxValue;
        foreach (int minDim in new[] { 4, 2, 1 }.Where(d => d <= model.Dim).Distinct())
        {
            for (int step = 0; step <= 60; step++)
            {
                double alpha = step * 0.05;
                string tables = $"default_table: {{family: md, alpha: {alpha:0.00}, min_dim: {minDim}}}\n";
                var plan = model.Plan(tables, null);
                long bytes = plan.Total.WeightBytes;
                smallest = Math.Min(smallest, bytes);
                if (bytes > budgetBytes) continue;
                var widths = plan.Tables.Select(t => ((RecsysEmbed.Core.Config.Planning.MdTablePlan)t).Blocks[0].Dim).ToArray();
                return new MethodSolution(true, tables, null,
                    [SuiteModel.P("alpha", alpha.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)), SuiteModel.P("min_dim", minDim),
                     SuiteModel.P("base_dim", model.Dim), SuiteModel.P("widths", $"{widths.Min()}..{widths.Max()}")], bytes, null);
            }
        }
        return MethodSolution.Unreachable($"the narrowest widths (min_dim 1, alpha 3) still take {smallest:N0} bytes, over the budget of {budgetBytes:N0}");
    }
}
