using System.Diagnostics;
using RecsysEmbed.Training;

namespace RecsysEmbed.CompressionBench;

/// <summary>What a suite run did: cells run now, cells found finished, cells skipped as unreachable, and whether all are done.</summary>
public sealed record SuiteOutcome(int Ran, int Resumed, int Skipped, int Remaining, string OutDir)
{
    public bool Complete => Remaining == 0;
}

/// <summary>
/// The compression benchmark suite: for every method, budget and repeat, solve the method's parameters for the
/// budget, train, evaluate and time it (<see cref="CellRunner"/>), save the cell, and rebuild the outputs. Cells
/// already in the folder are not recomputed; <see cref="SuiteOptions.MaxMinutes"/> stops starting new ones.
/// </summary>
public static class CompressionSuite
{
    public static SuiteOutcome Run(SuiteOptions options, TextWriter log, CancellationToken cancel = default)
    {
        options.Validate();
        var folder = RunFolder.Open(options);
        var started = DateTime.UtcNow;
        var clock = Stopwatch.StartNew(); // --max-minutes counts data preparation too
        var data = SuiteDataset.Prepare(options, folder.DataDir, log);
        var model = new SuiteModel(options, data.DenseFeatures, data.Sparse);
        var runner = new CellRunner(model, data);
        log.WriteLine($"budget policy: {SuitePolicies.Describe(options.Policy)}");
        log.WriteLine($"qr combine: {SuiteQrCombine.Describe(options.QrCombine)}");
        log.WriteLine($"full tables: {data.FullRows:N0} rows x {options.EmbeddingDim} = {model.FullWeightBytes:N0} weight bytes (budget 1)");

        var methods = options.Methods.Select(CompressionMethods.Get).ToArray();
        var todo = new List<(ICompressionMethod Method, double Budget, int Repeat)>();
        var cells = new List<CellResult>();
        int resumed = 0, skipped = 0;
        var solutions = new Dictionary<(string, double), MethodSolution>();
        foreach (double budget in options.Budgets)
            foreach (var method in methods)
            {
                var solution = method.Solve(model, (long)Math.Floor(budget * model.FullWeightBytes));
                solutions[(method.Name, budget)] = solution;
                for (int r = 0; r < options.Repeats; r++)
                {
                    if (folder.TryLoad(method.Name, budget, r, out var done))
                    {
                        cells.Add(done!);
                        resumed++;
                    }
                    else if (!solution.Reachable)
                    {
                        var cell = new CellResult
                        {
                            Method = method.Name, Budget = budget, Repeat = r, Seed = options.Seed + (ulong)r, Status = "skipped", Reason = solution.Reason,
                            BudgetBytes = (long)Math.Floor(budget * model.FullWeightBytes), FullWeightBytes = model.FullWeightBytes,
                        };
                        folder.Save(cell);
                        cells.Add(cell);
                        skipped++;
                    }
                    else
                    {
                        todo.Add((method, budget, r));
                    }
                }
            }
        if (resumed > 0) log.WriteLine($"resuming: {resumed} finished cell(s) found in {folder.Dir}, {todo.Count} to run");
        foreach (var s in solutions.Where(s => !s.Value.Reachable).Select(s => s.Key))
            log.WriteLine($"skip {s.Item1} at {CellStats.BudgetLabel(s.Item2)}: {solutions[s].Reason}");

        var seconds = new Dictionary<string, List<double>>();
        int ran = 0;
        for (int i = 0; i < todo.Count; i++)
        {
            cancel.ThrowIfCancellationRequested();
            if (options.MaxMinutes is { } max && clock.Elapsed.TotalMinutes >= max)
            {
                log.WriteLine($"--max-minutes {max} reached: {todo.Count - i} cell(s) left; run the same command again to resume.");
                WriteOutputs(options, folder, model, data, cells, started, complete: false);
                return new SuiteOutcome(ran, resumed, skipped, todo.Count - i, folder.Dir);
            }
            var (method, budget, repeat) = todo[i];
            string label = $"{method.Name} at {CellStats.BudgetLabel(budget)} repeat {repeat}";
            var cell = runner.Run(method, budget, repeat, solutions[(method.Name, budget)], new ThrottledProgress(label, log));
            folder.Save(cell);
            cells.Add(cell);
            ran++;
            (seconds.TryGetValue(method.Name, out var list) ? list : seconds[method.Name] = []).Add(cell.WallSeconds);
            log.WriteLine($"[{i + 1}/{todo.Count}] {label}: AUC {cell.Auc:F4}, {cell.WeightBytes:N0} bytes, {cell.TrainSamplesPerSecond:N0} samples/s, " +
                          $"lookup p50 {cell.LookupP50Microseconds:F1} us | {cell.WallSeconds:F1} s ({cell.CpuSeconds:F1} s CPU); elapsed {Clock(clock.Elapsed)}, ETA {Clock(Eta(todo, i + 1, seconds))}");
        }
        WriteOutputs(options, folder, model, data, cells, started, complete: true);
        log.WriteLine($"done: outputs in {folder.Dir}");
        return new SuiteOutcome(ran, resumed, skipped, 0, folder.Dir);
    }

    // Time left: each remaining cell costs the mean of its method's cells so far (or of all cells, for a method not run yet).
    private static TimeSpan Eta(List<(ICompressionMethod Method, double Budget, int Repeat)> todo, int done, Dictionary<string, List<double>> seconds)
    {
        double overall = seconds.Values.SelectMany(v => v).DefaultIfEmpty(0).Average();
        double left = 0;
        for (int j = done; j < todo.Count; j++) left += seconds.TryGetValue(todo[j].Method.Name, out var s) ? s.Average() : overall;
        return TimeSpan.FromSeconds(left);
    }

    private static string Clock(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}" : $"{t.Minutes:00}:{t.Seconds:00}";

    public static void WriteOutputs(SuiteOptions options, RunFolder folder, SuiteModel model, SuiteDataset data, List<CellResult> cells, DateTime started, bool complete)
    {
        var ordered = cells.OrderBy(c => options.Budgets.ToList().IndexOf(c.Budget)).ThenBy(c => options.Methods.ToList().IndexOf(c.Method)).ThenBy(c => c.Repeat).ToList();
        var stats = CellStats.Of(ordered, options.Methods, options.Budgets);
        var manifest = RunManifest.Create(options, data, started);
        ResultsTable.Write(ordered, options.Policy, options.QrCombine, Path.Combine(folder.Dir, "results.csv"));
        RunFolder.WriteAtomic(Path.Combine(folder.Dir, "summary.md"), SummaryWriter.Markdown(stats, options, manifest, model.FullWeightBytes, complete));
        PlotWriter.Write(stats, options.Methods, folder.Dir, data.BestAuc);
        RunFolder.WriteAtomic(Path.Combine(folder.Dir, "report.html"), ReportWriter.Html(stats, ordered, options, manifest, model.FullWeightBytes, folder.Dir, complete));
    }

    /// <summary>A progress line every few seconds while a cell trains.</summary>
    private sealed class ThrottledProgress(string label, TextWriter log) : IProgress<TrainProgress>
    {
        private readonly Stopwatch _since = Stopwatch.StartNew();

        public void Report(TrainProgress p)
        {
            if (_since.Elapsed.TotalSeconds < 10) return;
            _since.Restart();
            log.WriteLine($"    {label}: {p.Samples:N0} samples, {p.SamplesPerSecond:N0}/s, log loss {p.LogLoss:F4}");
        }
    }
}
