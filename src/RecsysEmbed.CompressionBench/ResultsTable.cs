using Microsoft.Data.Analysis;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.CompressionBench;

/// <summary>
/// results.csv: one row per cell and repeat (skipped cells included with their reason), via a DataFrame. The last
/// two columns are the run's budget policy (--policy: cap, uniform or threshold; it changes only hash, multihash, qr,
/// ue and ue2) and QR combine (--qr-combine: mult, add or concat; it changes only qr).
/// </summary>
public static class ResultsTable
{
    public static DataFrame ToFrame(IReadOnlyList<CellResult> cells, SuitePolicy policy, QrCombine qrCombine = QrCombine.Multiply) => new(
        new StringDataFrameColumn("method", cells.Select(c => c.Method)),
        new DoubleDataFrameColumn("budget", cells.Select(c => c.Budget)),
        new Int32DataFrameColumn("repeat", cells.Select(c => c.Repeat)),
        new Int64DataFrameColumn("seed", cells.Select(c => (long)c.Seed)),
        new StringDataFrameColumn("status", cells.Select(c => c.Status)),
        new StringDataFrameColumn("reason", cells.Select(c => c.Reason ?? "")),
        new StringDataFrameColumn("parameters", cells.Select(c => c.Parameters)),
        new Int64DataFrameColumn("budget_bytes", cells.Select(c => c.BudgetBytes)),
        new Int64DataFrameColumn("weight_bytes", cells.Select(c => c.WeightBytes)),
        new Int64DataFrameColumn("optimizer_bytes", cells.Select(c => c.OptimizerBytes)),
        new Int64DataFrameColumn("full_weight_bytes", cells.Select(c => c.FullWeightBytes)),
        new DoubleDataFrameColumn("auc", cells.Select(c => c.Auc)),
        new DoubleDataFrameColumn("log_loss", cells.Select(c => c.LogLoss)),
        new DoubleDataFrameColumn("normalized_entropy", cells.Select(c => c.NormalizedEntropy)),
        new DoubleDataFrameColumn("calibration", cells.Select(c => c.Calibration)),
        new Int64DataFrameColumn("train_samples", cells.Select(c => c.TrainSamples)),
        new DoubleDataFrameColumn("train_samples_per_s", cells.Select(c => c.TrainSamplesPerSecond)),
        new DoubleDataFrameColumn("lookup_p50_us", cells.Select(c => c.LookupP50Microseconds)),
        new DoubleDataFrameColumn("lookup_p99_us", cells.Select(c => c.LookupP99Microseconds)),
        new DoubleDataFrameColumn("wall_s", cells.Select(c => c.WallSeconds)),
        new DoubleDataFrameColumn("cpu_s", cells.Select(c => c.CpuSeconds)),
        new StringDataFrameColumn("policy", cells.Select(_ => policy.Name())),
        new StringDataFrameColumn("qr_combine", cells.Select(_ => qrCombine.Name())));

    public static void Write(IReadOnlyList<CellResult> cells, SuitePolicy policy, QrCombine qrCombine, string path) =>
        RunFolder.WriteAtomic(path, temp => DataFrame.SaveCsv(ToFrame(cells, policy, qrCombine), temp, cultureInfo: System.Globalization.CultureInfo.InvariantCulture));
}
