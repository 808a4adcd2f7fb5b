using System.CommandLine;
using System.Globalization;
using RecsysEmbed.CompressionBench;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// <c>recsys-embed bench compression</c>: every compression method at every memory budget on one dataset, with
/// repeats, written to an output folder (results.csv, summary.md, pareto.png/svg, throughput.png, report.html).
/// Resumable: rerunning the same command skips the finished cells.
/// </summary>
internal static class BenchCompressionCommand
{
    public const string DefaultBudgets = "1,0.5,0.25,0.125,0.0625,0.03125,0.015625";

    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "A Criteo-format TSV file (its last --eval-fraction of lines held out) or synth:criteo[:ROWS].", Required = true };
        var model = new Option<string>("--model") { Description = "dlrm or dcnv2.", DefaultValueFactory = _ => "dlrm" };
        var methods = new Option<string>("--methods") { Description = $"Comma-separated methods: {string.Join(",", CompressionMethods.Names)}.", DefaultValueFactory = _ => string.Join(",", CompressionMethods.Names) };
        var budgets = new Option<string>("--budgets") { Description = "Comma-separated fractions of the full tables' weight bytes, each in (0, 1] (1/64 or 0.015625).", DefaultValueFactory = _ => DefaultBudgets };
        var repeats = new Option<int>("--repeats") { Description = "Repeats per cell, each with its own seed.", DefaultValueFactory = _ => 1 };
        var outDir = new Option<string>("--out") { Description = "Output folder (new, empty, or holding this same run to resume).", Required = true };
        var maxMinutes = new Option<double?>("--max-minutes") { Description = "Start no new cell after this many minutes; rerun to resume." };
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => 1 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 2048 };
        var dim = new Option<int>("--dim") { Description = "Embedding width.", DefaultValueFactory = _ => 16 };
        var bottom = new Option<string>("--bottom-mlp") { Description = "DLRM bottom MLP hidden sizes, comma-separated.", DefaultValueFactory = _ => "512,256" };
        var top = new Option<string>("--top-mlp") { Description = "DLRM top MLP (DCN-v2 deep MLP) hidden sizes, comma-separated.", DefaultValueFactory = _ => "512,256" };
        var evalFraction = new Option<double>("--eval-fraction") { Description = "Held-out share of the rows.", DefaultValueFactory = _ => 0.1 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of repeat 0 (repeat r uses seed + r) and of the synthetic data.", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var title = new Option<string>("--title") { Description = "Heading of summary.md and report.html (e.g. to mark a smoke run).", DefaultValueFactory = _ => "Compression suite" };
        var latency = new Option<int>("--latency-requests") { Description = "Single requests timed per cell for lookup p50/p99.", DefaultValueFactory = _ => 2000 };
        var policy = new Option<string>("--policy")
        {
            Description = "How hash, multihash, qr, ue and ue2 spend a budget: cap (default) keeps full tables for features with at most T ids and " +
                          "compresses only larger ones, T the largest cap that fits; uniform is the literature's protocol (Shi et al. 2020, " +
                          "Coleman et al. 2023): every feature compressed with one factor c, the smallest that fits (hash: ceil(n/c) buckets, " +
                          "qr: radices [ceil(n/c), c]; ue: every feature in one shared table that fills the budget); threshold is the DLRM " +
                          "reference's protocol (--qr-threshold 200): features with at most 200 ids keep full tables, larger ones as under uniform. md, full, lp, tt and robe " +
                          "ignore it; the policy is part of the run's identity (run.txt, results.csv).",
            DefaultValueFactory = _ => "cap",
        };
        var qrCombine = new Option<string>("--qr-combine")
        {
            Description = "How qr joins its partition vectors (Shi et al. 2020; the DLRM reference's --qr-operation): mult (default, element-wise product), " +
                          "add (sum) or concat (side by side, 2 x dim wide). Only qr reads it; it is part of the run's identity (run.txt, results.csv).",
            DefaultValueFactory = _ => "mult",
        };
        var command = new Command("compression", "Compression benchmark suite: every method at every memory budget; tables, Pareto plots and an HTML report.")
        {
            data, model, methods, budgets, policy, qrCombine, repeats, outDir, maxMinutes, epochs, batch, dim, bottom, top, evalFraction, seed, threads, latency, title,
        };
        command.SetAction(p =>
        {
            var stderr = p.InvocationConfiguration.Error;
            try
            {
                var options = new SuiteOptions
                {
                    Data = p.GetValue(data)!, Model = p.GetValue(model)!, Methods = List(p.GetValue(methods)!),
                    Budgets = List(p.GetValue(budgets)!).Select(b => Budget(b)).ToArray(), Repeats = p.GetValue(repeats),
                    OutDir = p.GetValue(outDir)!, MaxMinutes = p.GetValue(maxMinutes), Epochs = p.GetValue(epochs), BatchSize = p.GetValue(batch),
                    EmbeddingDim = p.GetValue(dim), BottomMlp = Sizes(p.GetValue(bottom)!, "--bottom-mlp"), TopMlp = Sizes(p.GetValue(top)!, "--top-mlp"),
                    EvalFraction = p.GetValue(evalFraction), Seed = p.GetValue(seed), Threads = p.GetValue(threads), LatencyRequests = p.GetValue(latency),
                    Title = p.GetValue(title)!, Policy = SuitePolicies.Parse(p.GetValue(policy)),
                    QrCombine = SuiteQrCombine.Parse(p.GetValue(qrCombine)),
                };
                var outcome = CompressionSuite.Run(options, stderr);
                p.InvocationConfiguration.Output.WriteLine(outcome.Complete
                    ? $"compression suite complete: {outcome.Ran} cell(s) run, {outcome.Resumed} resumed, {outcome.Skipped} skipped; outputs in {outcome.OutDir}"
                    : $"compression suite stopped with {outcome.Remaining} cell(s) left ({outcome.Ran} run, {outcome.Resumed} resumed); rerun to resume; outputs so far in {outcome.OutDir}");
                return 0;
            }
            catch (SuiteInputException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return Program.UsageError;
            }
        });
        return command;
    }

    private static string[] List(string text) => text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    // "0.25" or "1/4".
    private static double Budget(string text)
    {
        var parts = text.Split('/');
        if (parts.Length == 2 && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double n)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d != 0)
            return n / d;
        if (parts.Length == 1 && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) return v;
        throw new SuiteInputException("--budgets", $"'{text}' is not a number or a fraction like 1/64");
    }

    private static int[] Sizes(string text, string option) => List(text).Select(s =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : throw new SuiteInputException(option, $"'{s}' is not a layer size >= 1")).ToArray();
}
