using System.Globalization;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace RecsysEmbed.Cli.Commands;

/// <summary>The plan for people: a table of tables, a table of features, then totals, baseline and compression.</summary>
internal static class PlanTables
{
    public static void Write(EmbeddingPlan plan, TextWriter output)
    {
        var console = ConsoleFor(output);
        var c = plan.Config;
        string budget = c.MemoryBudgetBytes is { } bytes ? $", memory budget {ByteSize.Format(bytes)} of weights" : "";
        console.Write(new Text($"{c.Name}: {c.SparseFeatures.Count} sparse + {c.DenseFeatures.Count} dense features, embedding_dim {c.EmbeddingDim}, " +
                               $"optimizer {Names.Of(c.Optimizer.Kind)}{budget}"));
        console.WriteLine();
        console.WriteLine();

        var tables = new Table().Border(TableBorder.Rounded).ShowFooters();
        tables.AddColumn("Table", col => col.Footer("Total"));
        tables.AddColumn("Family");
        tables.AddColumn("Features");
        tables.AddColumn("Matrices (rows x dim)");
        tables.AddColumn("Output", col => col.RightAligned());
        tables.AddColumn("Parameters", col => col.RightAligned().Footer(N(plan.Total.WeightParameters)));
        tables.AddColumn("Weights", col => col.RightAligned().Footer(ByteSize.Format(plan.Total.WeightBytes)));
        tables.AddColumn("Optimizer state", col => col.RightAligned().Footer(ByteSize.Format(plan.Total.OptimizerBytes)));
        foreach (var t in plan.Tables)
        {
            Row(tables, t.Name, t.Family, FeatureList(t), string.Join(" + ", t.Matrices.Select(m => $"{N(m.Rows)} x {m.Dim}")),
                string.Join("/", t.Features.Select(f => f.OutputDim).Distinct()), N(t.Memory.WeightParameters),
                ByteSize.Format(t.Memory.WeightBytes), ByteSize.Format(t.Memory.OptimizerBytes));
        }
        console.Write(tables);

        var features = new Table().Border(TableBorder.Rounded);
        foreach (var h in new[] { "Feature", "Cardinality", "Pooling", "Table", "Family", "Output" }) features.AddColumn(h);
        features.Columns[1].RightAligned();
        features.Columns[5].RightAligned();
        foreach (var f in c.SparseFeatures)
        {
            var t = plan.TableOf(f.Name);
            string cardinality = f.Cardinality.Rows is { } n ? N(n) : f.Cardinality + (f.CardinalityEstimate is { } e ? $" (~{N(e)})" : "");
            Row(features, f.Name + (f.Weighted ? " (weighted)" : ""), cardinality, Names.Of(f.Pooling), t.Name, t.Family,
                t.Features.First(s => s.Name == f.Name).OutputDim.ToString(CultureInfo.InvariantCulture));
        }
        console.Write(features);

        var b = plan.Baseline;
        var lines = new List<string>
        {
            $"Total:       {N(plan.Total.WeightParameters)} parameters, {ByteSize.Format(plan.Total.WeightBytes)} weights + {ByteSize.Format(plan.Total.OptimizerBytes)} optimizer state",
            $"Baseline:    {N(b.Rows)} rows x {b.Dim} as full tables, {N(b.Memory.WeightParameters)} parameters, {ByteSize.Format(b.Memory.WeightBytes)} weights + {ByteSize.Format(b.Memory.OptimizerBytes)} optimizer state",
            $"Compression: {plan.CompressionRatio.ToString("0.00", CultureInfo.InvariantCulture)}x fewer weight bytes than the baseline",
        };
        if (c.MemoryBudgetBytes is { } cap)
            lines.Add($"Budget:      {ByteSize.Format(plan.Total.WeightBytes)} of {ByteSize.Format(cap)} used ({(100.0 * plan.Total.WeightBytes / cap).ToString("0.0", CultureInfo.InvariantCulture)}%)");
        if (b.EstimatedFeatures.Count > 0) lines.Add($"Baseline uses the cardinality_estimate of: {string.Join(", ", b.EstimatedFeatures)}");
        if (b.SkippedFeatures.Count > 0) lines.Add($"Baseline leaves out (no fixed cardinality or estimate): {string.Join(", ", b.SkippedFeatures)}");
        foreach (var line in lines) console.WriteLine(line);
    }

    private static IAnsiConsole ConsoleFor(TextWriter output)
    {
        bool terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        // Redirected output has no width to fit; keep rows on one line for grep and diffs.
        if (!terminal) console.Profile.Width = 240;
        return console;
    }

    private static string FeatureList(TablePlan t)
    {
        var names = t.Features.Select(f => f.Name).ToList();
        return names.Count <= 4 ? string.Join(", ", names) : $"{names[0]}, {names[1]}, ... {names[^1]} ({names.Count})";
    }

    // Plain text cells: names may contain [ ] that Spectre would read as markup.
    private static void Row(Table table, params string[] cells) => table.AddRow(cells.Select(s => (IRenderable)new Text(s)).ToArray());

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
