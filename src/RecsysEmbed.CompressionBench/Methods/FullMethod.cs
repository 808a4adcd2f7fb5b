namespace RecsysEmbed.CompressionBench;

/// <summary>Uncompressed: one fp32 row per id. Reaches only a budget of 1.</summary>
public sealed class FullMethod : ICompressionMethod
{
    public string Name => "full";
    public string Description => "full tables, one fp32 row per id (the baseline)";

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
        const string tables = "default_table: {family: full}\n";
        long bytes = model.WeightBytes(tables, null)!.Value;
        if (bytes > budgetBytes) return MethodSolution.Unreachable($"full tables take {bytes:N0} bytes, over the budget of {budgetBytes:N0}");
        return new MethodSolution(true, tables, null, [SuiteModel.P("rows", model.Sparse.Sum(f => f.Cardinality))], bytes, null);
    }
}
