using System.Globalization;
using System.Net;
using System.Text;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.CompressionBench;

/// <summary>
/// report.html: one self-contained page (no network: styles inline, plots embedded as data URIs) with the result
/// tables, the plots, the run manifest (commit, options, seeds, machine, date), the methods' solved parameters per
/// budget, and each cell's model config. A small inline script records every image's decoded width in the page
/// (data-natural-width and #image-check), so a headless browser can confirm the images really decode.
/// </summary>
public static class ReportWriter
{
    public static string Html(IReadOnlyList<CellStats> stats, IReadOnlyList<CellResult> cells, SuiteOptions options, RunManifest manifest,
                              long fullWeightBytes, string dir, bool complete)
    {
        var h = new StringBuilder();
        h.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(E(options.Title)).AppendLine(" report</title>");
        h.AppendLine("<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}" +
                     "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th{background:#eee}td.l,th.l{text-align:left}" +
                     "b{color:#064}img{max-width:100%;border:1px solid #ddd}pre{background:#f6f6f6;padding:8px;overflow:auto}</style></head><body>");
        h.Append("<h1>").Append(E(options.Title)).AppendLine(" report</h1>");
        if (!complete) h.AppendLine("<p><strong>Incomplete run</strong>: some cells are not finished yet (rerun the same command to resume).</p>");

        h.AppendLine("<h2 id=\"manifest\">Run manifest</h2><table id=\"manifest-table\">");
        Row(h, "Commit", manifest.Commit);
        Row(h, "Machine", manifest.Machine);
        Row(h, "Date", $"{manifest.StartedUtc} to {manifest.FinishedUtc}");
        Row(h, "Data", manifest.Data + (manifest.BestAuc is { } b ? $"; best achievable AUC {b:F4}" : ""));
        Row(h, "Seeds", string.Join(", ", manifest.Seeds));
        Row(h, "Budget policy", SuitePolicies.Describe(options.Policy));
        Row(h, "QR combine", SuiteQrCombine.Describe(options.QrCombine));
        Row(h, "Full tables (budget 1)", $"{fullWeightBytes:N0} bytes ({ByteSize.Format(fullWeightBytes)}) of fp32 weights");
        h.AppendLine("</table><details><summary>Suite options (the run's identity)</summary><pre>").Append(E(manifest.Options)).AppendLine("</pre></details>");

        h.AppendLine("<h2>Plots</h2>");
        Image(h, "pareto-png", Path.Combine(dir, "pareto.png"), "image/png", "AUC vs bytes (PNG)");
        Image(h, "pareto-svg", Path.Combine(dir, "pareto.svg"), "image/svg+xml", "AUC vs bytes (SVG)");
        Image(h, "throughput-png", Path.Combine(dir, "throughput.png"), "image/png", "Training samples/s vs bytes");

        Table(h, "auc", "Held-out AUC (mean ± std over repeats; best per budget in bold)", stats, options, s => s.Auc.Format("F4"), s => s.Auc.Mean, true);
        Table(h, "logloss", "Held-out log loss", stats, options, s => s.LogLoss.Format("F4"), s => s.LogLoss.Mean, false);
        Table(h, "bytes", "Embedding weight bytes (optimizer state)", stats, options, s => $"{ByteSize.Format(s.WeightBytes)} ({ByteSize.Format(s.OptimizerBytes)})", null, false);
        Table(h, "throughput", "Training samples/s", stats, options, s => s.SamplesPerSecond.Format("N0"), null, false);
        Table(h, "latency", "Lookup latency p50 / p99 (µs), one request of every sparse feature, 1 thread", stats, options,
              s => $"{s.P50.Mean.ToString("F1", CultureInfo.InvariantCulture)} / {s.P99.Mean.ToString("F1", CultureInfo.InvariantCulture)}", null, false);
        Table(h, "parameters", "Method parameters per budget (solved to fit)", stats, options, s => s.Parameters, null, false);

        h.AppendLine("<h2>Methods</h2><ul>");
        foreach (var m in options.Methods)
            h.Append("<li><b>").Append(E(m)).Append("</b>: ").Append(E(MethodDescription(m, options.Policy, options.QrCombine))).AppendLine("</li>");
        h.AppendLine("</ul>");
        var skipped = stats.Where(s => s.Skipped is not null).ToArray();
        h.AppendLine("<h2>Skipped cells</h2>");
        h.AppendLine(skipped.Length == 0 ? "<p>None.</p>" : "<ul>" + string.Concat(skipped.Select(s => $"<li>{E(s.Method)} at {CellStats.BudgetLabel(s.Budget)}: {E(s.Skipped!)}</li>")) + "</ul>");

        h.AppendLine("<h2>Model configs (repeat 0 of each cell)</h2>");
        foreach (var c in cells.Where(c => c.Ok && c.Repeat == 0))
            h.Append("<details><summary>").Append(E($"{c.Method} at {CellStats.BudgetLabel(c.Budget)}")).Append("</summary><pre>").Append(E(c.Config)).AppendLine("</pre></details>");

        h.AppendLine("<p id=\"image-check\">images not checked (scripts off)</p>");
        h.AppendLine("<script>window.addEventListener('load',function(){var out=[];document.querySelectorAll('img').forEach(function(i){" +
                     "i.setAttribute('data-natural-width',i.naturalWidth);out.push(i.id+'='+i.naturalWidth);});" +
                     "document.getElementById('image-check').textContent='decoded widths: '+out.join(' ');});</script>");
        h.AppendLine("</body></html>");
        return h.ToString();
    }

    /// <summary>The method's description under the run's policy, marked where the policy does not apply.</summary>
    public static string MethodDescription(string method, SuitePolicy policy, QrCombine qrCombine = QrCombine.Multiply) =>
        CompressionMethods.Get(method).DescriptionFor(policy).Replace("partitions multiplied", method == "qr" ? qrCombine.Verb() : "partitions multiplied", StringComparison.Ordinal)
        + (SuitePolicies.AppliesTo(method) ? "" : " (the budget policy does not apply)");

    private static void Row(StringBuilder h, string key, string value) =>
        h.Append("<tr><th class=\"l\">").Append(E(key)).Append("</th><td class=\"l\">").Append(E(value)).AppendLine("</td></tr>");

    private static void Image(StringBuilder h, string id, string path, string mime, string alt)
    {
        if (!File.Exists(path)) return;
        h.Append("<h3>").Append(E(alt)).Append("</h3><img id=\"").Append(id).Append("\" alt=\"").Append(E(alt)).Append("\" src=\"data:").Append(mime)
         .Append(";base64,").Append(Convert.ToBase64String(File.ReadAllBytes(path))).AppendLine("\">");
    }

    private static void Table(StringBuilder h, string id, string title, IReadOnlyList<CellStats> stats, SuiteOptions options, Func<CellStats, string> cell,
                              Func<CellStats, double>? score, bool higherIsBetter)
    {
        h.Append("<h2>").Append(E(title)).Append("</h2><table id=\"table-").Append(id).Append("\"><tr><th>budget</th>");
        foreach (var m in options.Methods) h.Append("<th>").Append(E(m)).Append("</th>");
        h.AppendLine("</tr>");
        foreach (double budget in options.Budgets)
        {
            var row = options.Methods.Select(m => stats.FirstOrDefault(s => s.Method == m && s.Budget == budget)).ToArray();
            CellStats? best = null;
            if (score is not null)
            {
                var ok = row.Where(s => s is not null && s.Skipped is null && double.IsFinite(score(s))).ToArray();
                if (ok.Length > 0) best = higherIsBetter ? ok.MaxBy(s => score(s!)) : ok.MinBy(s => score(s!));
            }
            h.Append("<tr><th>").Append(CellStats.BudgetLabel(budget)).Append("</th>");
            foreach (var s in row)
            {
                string text = s is null ? "" : s.Skipped is not null ? "skipped" : cell(s);
                h.Append("<td>").Append(ReferenceEquals(s, best) ? $"<b>{E(text)}</b>" : E(text)).Append("</td>");
            }
            h.AppendLine("</tr>");
        }
        h.AppendLine("</table>");
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
