namespace RecsysEmbed.CompressionBench;

/// <summary>Mean and sample standard deviation of a metric over the repeats of one (method, budget).</summary>
public readonly record struct Spread(double Mean, double Std, int Count)
{
    public static Spread Of(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).ToArray();
        if (v.Length == 0) return new Spread(double.NaN, double.NaN, 0);
        double mean = v.Average();
        double std = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)) : double.NaN;
        return new Spread(mean, std, v.Length);
    }

    public string Format(string format) =>
        Count == 0 ? "" : Count == 1 ? Mean.ToString(format, System.Globalization.CultureInfo.InvariantCulture) + " (n=1)"
        : $"{Mean.ToString(format, System.Globalization.CultureInfo.InvariantCulture)} ± {Std.ToString(format, System.Globalization.CultureInfo.InvariantCulture)}";
}

/// <summary>The repeats of one (method, budget) summarised; <see cref="Skipped"/> holds the reason when unreachable.</summary>
public sealed record CellStats(string Method, double Budget, string? Skipped, string Parameters, long WeightBytes, long OptimizerBytes,
                               Spread Auc, Spread LogLoss, Spread SamplesPerSecond, Spread P50, Spread P99)
{
    public static IReadOnlyList<CellStats> Of(IReadOnlyList<CellResult> cells, IEnumerable<string> methods, IEnumerable<double> budgets)
    {
        var stats = new List<CellStats>();
        foreach (double budget in budgets)
            foreach (string method in methods)
            {
                var group = cells.Where(c => c.Method == method && c.Budget == budget).ToArray();
                if (group.Length == 0) continue;
                var ok = group.Where(c => c.Ok).ToArray();
                var skipped = group.FirstOrDefault(c => !c.Ok);
                stats.Add(new CellStats(method, budget, ok.Length == 0 ? skipped?.Reason ?? "skipped" : null,
                    (ok.FirstOrDefault() ?? group[0]).Parameters, ok.FirstOrDefault()?.WeightBytes ?? 0, ok.FirstOrDefault()?.OptimizerBytes ?? 0,
                    Spread.Of(ok.Select(c => c.Auc)), Spread.Of(ok.Select(c => c.LogLoss)), Spread.Of(ok.Select(c => c.TrainSamplesPerSecond)),
                    Spread.Of(ok.Select(c => c.LookupP50Microseconds)), Spread.Of(ok.Select(c => c.LookupP99Microseconds))));
            }
        return stats;
    }

    /// <summary>Budget as a fraction: 1, 1/2, 1/64, or the decimal when it is not 1/2^k.</summary>
    public static string BudgetLabel(double budget)
    {
        if (budget == 1) return "1";
        double inv = 1 / budget;
        return Math.Abs(inv - Math.Round(inv)) < 1e-9 ? $"1/{Math.Round(inv):0}" : budget.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture);
    }
}
