using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.CompressionBench;

/// <summary>
/// Low-precision training: fp16 rows when they fit, else int8 rows (+ a scale a row), else int8 rows hashed into a
/// bucket cap T (as the hashing trick) for features with more than T ids.
/// </summary>
public sealed class LpMethod : ICompressionMethod
{
    public string Name => "lp";
    public string Description => "low-precision training: fp16/int8 rows with stochastic rounding (hashed below int8)";

    public MethodSolution Solve(SuiteModel model, long budgetBytes)
    {
        const string fp16 = "default_table: {family: lp, precision: fp16}\n";
        long b16 = model.WeightBytes(fp16, null)!.Value;
        if (b16 <= budgetBytes) return new MethodSolution(true, fp16, null, [SuiteModel.P("precision", "fp16"), SuiteModel.P("bucket_cap", "none")], b16, null);
        const string int8 = "default_table: {family: lp, precision: int8}\n";
        long b8 = model.WeightBytes(int8, null)!.Value;
        if (b8 <= budgetBytes) return new MethodSolution(true, int8, null, [SuiteModel.P("precision", "int8"), SuiteModel.P("bucket_cap", "none")], b8, null);
        long rowBytes = LowPrecisionTable.WeightBytesOf(1, model.Dim, RowPrecision.Int8);
        long? cap = SuiteModel.LargestFitting(1, model.Sparse.Max(f => f.Cardinality),
            t => model.Sparse.Sum(f => Math.Min(f.Cardinality, t)) * rowBytes <= budgetBytes);
        if (cap is null) return MethodSolution.Unreachable($"one int8 row per feature already takes {model.Sparse.Count * rowBytes:N0} bytes");
        string tables = model.PerFeatureTables(f => f.Cardinality <= cap.Value ? "family: lp, precision: int8" : $"family: lp, precision: int8, buckets: {cap.Value}");
        long bytes = model.WeightBytes(tables, null)!.Value;
        return new MethodSolution(true, tables, null, [SuiteModel.P("precision", "int8"), SuiteModel.P("bucket_cap", cap.Value)], bytes, null);
    }
}
