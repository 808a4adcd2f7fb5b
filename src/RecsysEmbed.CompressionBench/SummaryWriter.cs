using System.Globalization;
using System.Text;
using RecsysEmbed.Core.Config;

namespace RecsysEmbed.CompressionBench;

/// <summary>
/// summary.md: per budget (rows) and method (columns) the held-out AUC as mean ± sample standard deviation over
/// repeats, the best method of each budget in bold; then log loss, bytes, training speed, lookup latency, the
/// parameters each method solved, and the skipped cells with their reasons.
/// </summary>
public static class SummaryWriter
{
    public static string Markdown(IReadOnlyList<CellStats> stats, SuiteOptions options, RunManifest manifest, long fullWeightBytes, bool complete)
    {
        var methods = options.Methods;
        var md = new StringBuilder();
        md.AppendLine($"# {options.Title}: summary").AppendLine();
        if (!complete) md.AppendLine("**Incomplete run**: some cells are not finished yet (rerun the same command to resume).").AppendLine();
        md.AppendLine($"- Data: {manifest.Data}" + (manifest.BestAuc is { } best ? $"; best achievable AUC (planted model) {best:F4}" : ""));
        md.AppendLine($"- Model: {options.Model}, dim {options.EmbeddingDim}, bottom MLP [{string.Join(", ", options.BottomMlp)}], top MLP [{string.Join(", ", options.TopMlp)}], batch {options.BatchSize}, {options.Epochs} epoch(s), {options.Threads} thread(s)");
        md.AppendLine($"- Budget policy (--policy): {SuitePolicies.Describe(options.Policy)}");
        md.AppendLine($"- QR combine (--qr-combine): {SuiteQrCombine.Describe(options.QrCombine)}");
        md.AppendLine($"- Repeats: {options.Repeats} (seeds {string.Join(", ", manifest.Seeds)}); spread is the sample standard deviation over repeats");
        md.AppendLine($"- Budget = fraction of the full tables' fp32 weight bytes ({ByteSize.Format(fullWeightBytes)} = 1); optimizer state is reported apart, not budgeted");
        md.AppendLine($"- Commit {manifest.Commit}; machine {manifest.Machine}; {manifest.StartedUtc} to {manifest.FinishedUtc}").AppendLine();

        Table(md, "Held-out AUC (higher is better; best per budget in bold)", stats, options, s => s.Auc.Format("F4"), s => s.Auc.Mean, higherIsBetter: true);
        Table(md, "Held-out log loss", stats, options, s => s.LogLoss.Format("F4"), s => s.LogLoss.Mean, higherIsBetter: false);
        Table(md, "Embedding weight bytes (optimizer state)", stats, options, s => $"{ByteSize.Format(s.WeightBytes)} ({ByteSize.Format(s.OptimizerBytes)})", null, false);
        Table(md, "Training samples/s", stats, options, s => s.SamplesPerSecond.Format("N0"), null, false);
        Table(md, "Lookup latency p50 / p99 (µs), one request of every sparse feature, 1 thread", stats, options,
              s => $"{s.P50.Mean.ToString("F1", CultureInfo.InvariantCulture)} / {s.P99.Mean.ToString("F1", CultureInfo.InvariantCulture)}", null, false);
        Table(md, "Solved method parameters", stats, options, s => s.Parameters, null, false);

        var skipped = stats.Where(s => s.Skipped is not null).ToArray();
        md.AppendLine("## Skipped cells").AppendLine();
        if (skipped.Length == 0) md.AppendLine("None.");
        foreach (var s in skipped) md.AppendLine($"- {s.Method} at {CellStats.BudgetLabel(s.Budget)}: {s.Skipped}");
        md.AppendLine();
        return md.ToString();
    }

    private static void Table(StringBuilder md, string title, IReadOnlyList<CellStats> stats, SuiteOptions options, Func<CellStats, string> cell,
                              Func<CellStats, double>? score, bool higherIsBetter)
    {
        md.AppendLine($"## {title}").AppendLine();
        md.AppendLine("| budget | " + string.Join(" | ", options.Methods) + " |");
        md.AppendLine("|---|" + string.Concat(options.Methods.Select(_ => "---|")));
        foreach (double budget in options.Budgets)
        {
            var row = options.Methods.Select(m => stats.FirstOrDefault(s => s.Method == m && s.Budget == budget)).ToArray();
            CellStats? best = null;
            if (score is not null)
            {
                var ok = row.Where(s => s is not null && s.Skipped is null && double.IsFinite(score(s))).ToArray();
                if (ok.Length > 0) best = higherIsBetter ? ok.MaxBy(s => score(s!)) : ok.MinBy(s => score(s!));
            }
            md.Append("| ").Append(CellStats.BudgetLabel(budget)).Append(" |");
            foreach (var s in row)
            {
                string text = s is null ? "" : s.Skipped is not null ? "skipped" : cell(s);
                md.Append(' ').Append(ReferenceEquals(s, best) ? $"**{text}**" : text).Append(" |");
            }
            md.AppendLine();
        }
        md.AppendLine();
    }
}
