using ScottPlot;

namespace RecsysEmbed.CompressionBench;

/// <summary>
/// pareto.png / pareto.svg: held-out AUC against embedding weight bytes (log scale), one line per method through its
/// budgets, with the repeats' standard deviation as error bars; throughput.png: training samples/s against bytes.
/// </summary>
public static class PlotWriter
{
    public const int Width = 900, Height = 560;

    public static void Write(IReadOnlyList<CellStats> stats, IReadOnlyList<string> methods, string dir, double? bestAuc)
    {
        var pareto = Build(stats, methods, s => s.Auc, "Held-out AUC", "AUC vs embedding weight bytes");
        if (bestAuc is { } best && double.IsFinite(best))
        {
            var line = pareto.Add.HorizontalLine(best);
            line.LinePattern = LinePattern.Dashed;
            line.LegendText = $"best achievable {best:F4}";
        }
        RunFolder.WriteAtomic(Path.Combine(dir, "pareto.png"), temp => pareto.SavePng(temp, Width, Height));
        RunFolder.WriteAtomic(Path.Combine(dir, "pareto.svg"), temp => pareto.SaveSvg(temp, Width, Height));
        var throughput = Build(stats, methods, s => s.SamplesPerSecond, "Training samples/s", "Training throughput vs embedding weight bytes");
        RunFolder.WriteAtomic(Path.Combine(dir, "throughput.png"), temp => throughput.SavePng(temp, Width, Height));
    }

    private static Plot Build(IReadOnlyList<CellStats> stats, IReadOnlyList<string> methods, Func<CellStats, Spread> metric, string yLabel, string title)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int m = 0; m < methods.Count; m++)
        {
            var points = stats.Where(s => s.Method == methods[m] && s.Skipped is null && s.WeightBytes > 0 && double.IsFinite(metric(s).Mean))
                              .OrderBy(s => s.WeightBytes).ToArray();
            if (points.Length == 0) continue;
            double[] xs = points.Select(s => Math.Log10(s.WeightBytes)).ToArray();
            double[] ys = points.Select(s => metric(s).Mean).ToArray();
            var color = palette.GetColor(m);
            var scatter = plot.Add.Scatter(xs, ys, color);
            scatter.LegendText = methods[m];
            scatter.MarkerSize = 7;
            double[] errors = points.Select(s => double.IsFinite(metric(s).Std) ? metric(s).Std : 0).ToArray();
            if (errors.Any(e => e > 0))
            {
                var bars = plot.Add.ErrorBar(xs, ys, errors);
                bars.Color = color;
            }
        }
        // Bytes on a log axis: positions are log10(bytes), labels the byte counts.
        var ticks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = DecimalBytes,
        };
        plot.Axes.Bottom.TickGenerator = ticks;
        plot.XLabel("Embedding weight bytes (log scale)");
        plot.YLabel(yLabel);
        plot.Title(title);
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    // 10^x bytes in decimal units (ticks sit on powers of ten): 1 kB, 10 MB, ...
    private static string DecimalBytes(double x)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB"];
        int power = (int)Math.Round(x);
        int unit = Math.Clamp(power / 3, 0, units.Length - 1);
        return $"{Math.Pow(10, power - 3 * unit):0} {units[unit]}";
    }
}
