using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Data.Analysis;
using RecsysEmbed.CompressionBench;

namespace RecsysEmbed.Tests.CompressionBench;

/// <summary>One tiny suite run shared by the tests below (a few thousand synthetic rows, small MLPs).</summary>
public sealed class TinySuiteRun : IDisposable
{
    public TinySuiteRun()
    {
        Dir = Path.Combine(Path.GetTempPath(), $"suite-tiny-{Guid.NewGuid():N}");
        Options = new SuiteOptions
        {
            Data = "synth:criteo:3000", Methods = ["full", "hash", "lp", "tt", "robe"], Budgets = [1, 0.125], Repeats = 2, OutDir = Dir,
            BottomMlp = [8], TopMlp = [8], BatchSize = 500, Threads = 1, LatencyRequests = 50, EvalFraction = 0.2,
        };
        Log = new StringWriter();
        First = CompressionSuite.Run(Options, Log);
    }

    public string Dir { get; }
    public SuiteOptions Options { get; }
    public StringWriter Log { get; }
    public SuiteOutcome First { get; }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

[CollectionDefinition(nameof(TinySuiteCollection))]
public sealed class TinySuiteCollection : ICollectionFixture<TinySuiteRun>;

/// <summary>
/// The outputs of a tiny run (5 methods x 2 budgets x 2 repeats): results.csv through a DataFrame, summary.md with
/// the best method per budget in bold, the plots, a self-contained report that headless Chromium renders with its
/// images decoded, and resume (finished cells are not recomputed).
/// </summary>
[Collection(nameof(TinySuiteCollection))]
public sealed class SuiteRunTests(TinySuiteRun run)
{
    [Fact]
    public void ResultsCsv_HasOneRowPerCellAndRepeatWithSkippedCellsExplained()
    {
        var frame = DataFrame.LoadCsv(Path.Combine(run.Dir, "results.csv"));
        Assert.Equal(5 * 2 * 2, frame.Rows.Count);
        var rows = frame.Rows.Select(r => (Method: (string)r["method"], Budget: Convert.ToDouble(r["budget"]), Status: (string)r["status"],
                                            Reason: r["reason"]?.ToString() ?? "", Auc: Convert.ToDouble(r["auc"]), Bytes: Convert.ToInt64(r["weight_bytes"]),
                                            Budgeted: Convert.ToInt64(r["budget_bytes"]))).ToArray();
        var fullSmall = rows.Where(r => r.Method == "full" && r.Budget == 0.125).ToArray();
        Assert.Equal(2, fullSmall.Length);
        Assert.All(fullSmall, r => { Assert.Equal("skipped", r.Status); Assert.Contains("over the budget", r.Reason); });
        foreach (var r in rows.Where(r => r.Status == "ok"))
        {
            Assert.InRange(r.Auc, 0.0, 1.0); // a few thousand rows: quality is not the point here
            Assert.True(r.Bytes <= r.Budgeted, $"{r.Method} at {r.Budget}: {r.Bytes} bytes > {r.Budgeted}");
        }
        Assert.Equal(2 * 2 * 4 + 2, rows.Count(r => r.Status == "ok"));
        Assert.Equal(2, frame.Columns["seed"].Cast<object>().Select(Convert.ToInt64).Distinct().Count());
    }

    [Fact]
    public void Summary_BoldsTheBestAucOfEachBudget()
    {
        string summary = File.ReadAllText(Path.Combine(run.Dir, "summary.md"));
        var aucSection = summary[summary.IndexOf("## Held-out AUC", StringComparison.Ordinal)..summary.IndexOf("## Held-out log loss", StringComparison.Ordinal)];
        foreach (string budget in new[] { "| 1 |", "| 1/8 |" })
        {
            string line = aucSection.Split('\n').Single(l => l.StartsWith(budget, StringComparison.Ordinal));
            var values = Regex.Matches(line, @"(\*\*)?(0\.\d{4}) ± ").Select(m => (Bold: m.Groups[1].Success, Auc: double.Parse(m.Groups[2].Value))).ToArray();
            Assert.NotEmpty(values);
            Assert.Single(values, v => v.Bold);
            Assert.Equal(values.Max(v => v.Auc), values.Single(v => v.Bold).Auc);
        }
        Assert.Contains("full at 1/8: full tables take", summary);
    }

    [Fact]
    public void Plots_ArePngAndSvg()
    {
        foreach (string png in new[] { "pareto.png", "throughput.png" })
        {
            byte[] bytes = File.ReadAllBytes(Path.Combine(run.Dir, png));
            Assert.True(bytes.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), $"{png} is not a PNG");
            Assert.Equal(PlotWriter.Width, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16, 4)));
        }
        string svg = File.ReadAllText(Path.Combine(run.Dir, "pareto.svg"));
        Assert.Matches($@"<svg[^>]*width=""{PlotWriter.Width}""", svg);
        Assert.Contains("<path", svg);
    }

    [Fact]
    public void Resume_RecomputesNothingFinishedAndOnlyTheMissingCell()
    {
        var again = CompressionSuite.Run(run.Options, new StringWriter());
        Assert.Equal(0, again.Ran);
        Assert.Equal(run.First.Ran + run.First.Skipped, again.Resumed);

        string cells = Path.Combine(run.Dir, "cells");
        string dropped = Path.Combine(cells, CellResult.FileName("hash", 0.125, 1));
        File.Delete(dropped);
        var stamps = Directory.GetFiles(cells).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        var third = CompressionSuite.Run(run.Options, new StringWriter());
        Assert.Equal(1, third.Ran);
        Assert.True(File.Exists(dropped));
        foreach (var (file, stamp) in stamps) Assert.Equal(stamp, File.GetLastWriteTimeUtc(file));
    }

    [Fact]
    public async Task Report_IsSelfContainedAndChromiumRendersTablesAndImages()
    {
        string report = Path.Combine(run.Dir, "report.html");
        string html = File.ReadAllText(report);
        Assert.DoesNotMatch(@"(src|href)\s*=\s*""(https?:)?//", html);
        const string chromium = "/usr/bin/chromium";
        Assert.True(File.Exists(chromium), "headless Chromium is missing: run build/setup.sh (apt package chromium)");

        string profile = Path.Combine(run.Dir, "chromium-profile");
        var start = new ProcessStartInfo(chromium)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            ArgumentList = { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", $"--user-data-dir={profile}",
                             "--virtual-time-budget=10000", "--dump-dom", new Uri(report).AbsoluteUri },
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string dom = await process.StandardOutput.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), "chromium did not exit within 2 minutes");
        Assert.True(dom.Length > 0, $"chromium printed no DOM (exit {process.ExitCode}): {await stderr}");

        foreach (string table in new[] { "table-auc", "table-logloss", "table-bytes", "table-throughput", "table-latency", "table-parameters", "manifest-table" })
            Assert.Contains($"id=\"{table}\"", dom);
        // The page's load handler wrote each image's decoded width: all three decoded at the plot size.
        Assert.Contains($"pareto-png={PlotWriter.Width}", dom);
        Assert.Contains($"pareto-svg={PlotWriter.Width}", dom);
        Assert.Contains($"throughput-png={PlotWriter.Width}", dom);
        Assert.Contains("rowwise_adagrad", dom); // a cell's model config
    }
}
