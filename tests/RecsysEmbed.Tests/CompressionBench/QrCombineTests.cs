using RecsysEmbed.CompressionBench;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.CompressionBench;

/// <summary>
/// --qr-combine (Shi et al. 2020's operations, the DLRM reference's --qr-operation): parsed and refused with the
/// option named, part of the run's identity (a run.txt from before the option reads as mult), and what the qr solver
/// writes into every compressed table, at the same bytes whichever combine.
/// </summary>
public sealed class QrCombineTests
{
    private static SuiteModel Threshold(QrCombine combine)
    {
        var m = BudgetSolverTests.Model();
        return new SuiteModel(m.Options with { Policy = SuitePolicy.Threshold, QrCombine = combine }, m.DenseFeatures, m.Sparse);
    }

    [Theory]
    [InlineData("mult", QrCombine.Multiply)]
    [InlineData("add", QrCombine.Add)]
    [InlineData(" concat ", QrCombine.Concat)]
    public void Parse_ReadsEachNameAndNameWritesItBack(string text, QrCombine expected)
    {
        Assert.Equal(expected, SuiteQrCombine.Parse(text));
        Assert.Equal(text.Trim(), expected.Name());
    }

    [Theory]
    [InlineData("multiply")]
    [InlineData("Add")]
    [InlineData("")]
    [InlineData(null)]
    public void Parse_RefusesOtherValues_NamingTheOptionAndTheValue(string? text)
    {
        var e = Assert.Throws<SuiteInputException>(() => SuiteQrCombine.Parse(text));
        Assert.Equal("--qr-combine", e.Field);
        Assert.Contains($"'{text}' is unknown", e.Message);
        Assert.Contains("mult or add or concat", e.Message);
    }

    [Fact]
    public void MultIsTheDefault_AndTheCombineIsTheLastIdentityLine()
    {
        var options = new SuiteOptions { Data = "synth:criteo:1000", Methods = ["qr"], Budgets = [1], OutDir = "unused" };
        Assert.Equal(QrCombine.Multiply, options.QrCombine);
        Assert.EndsWith("\npolicy=cap\nqr_combine=mult", options.Identity());
        Assert.EndsWith("\nqr_combine=add", (options with { QrCombine = QrCombine.Add }).Identity());
        Assert.NotEqual(options.Identity(), (options with { QrCombine = QrCombine.Concat }).Identity());
    }

    [Fact]
    public void Validate_RefusesAnUndefinedCombine()
    {
        var options = new SuiteOptions { Data = "synth:criteo:1000", Methods = ["qr"], Budgets = [1], OutDir = "unused", QrCombine = (QrCombine)7 };
        var e = Assert.Throws<SuiteInputException>(options.Validate);
        Assert.Equal("--qr-combine", e.Field);
    }

    [Fact]
    public void RunFromBeforeTheCombine_ResumesAsMultAndRefusesAdd()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"suite-qrcombine-{Guid.NewGuid():N}");
        var options = new SuiteOptions { Data = "synth:criteo:1000", Methods = ["qr"], Budgets = [1], OutDir = dir, Policy = SuitePolicy.Threshold };
        try
        {
            // run.txt as written before --qr-combine existed: the identity without its last line.
            Directory.CreateDirectory(Path.Combine(dir, "cells"));
            string legacy = options.Identity()[..options.Identity().LastIndexOf('\n')];
            Assert.EndsWith("\npolicy=threshold", legacy);
            File.WriteAllText(Path.Combine(dir, "run.txt"), legacy);

            var e = Assert.Throws<SuiteInputException>(() => RunFolder.Open(options with { QrCombine = QrCombine.Add }));
            Assert.Equal("--out", e.Field);
            Assert.Contains("qr_combine=mult -> qr_combine=add", e.Message);
            Assert.Equal(legacy, File.ReadAllText(Path.Combine(dir, "run.txt")));

            RunFolder.Open(options); // the same (mult) run: resumes, and run.txt now says so
            Assert.EndsWith("\npolicy=threshold\nqr_combine=mult", File.ReadAllText(Path.Combine(dir, "run.txt")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(QrCombine.Multiply, "mult")]
    [InlineData(QrCombine.Add, "add")]
    [InlineData(QrCombine.Concat, "concat")]
    public void QrSolver_WritesTheCombineIntoEveryQrTable_AtTheSameBytes(QrCombine combine, string name)
    {
        long budget = (long)(0.0625 * Threshold(QrCombine.Multiply).FullWeightBytes);
        var reference = new QrMethod().Solve(Threshold(QrCombine.Multiply), budget);
        var model = Threshold(combine);
        var solution = new QrMethod().Solve(model, budget);
        Assert.True(solution.Reachable, solution.Reason);
        var qrLines = solution.TablesYaml.Split('\n').Where(l => l.Contains("family: qr", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(qrLines);
        Assert.All(qrLines, l => Assert.Contains($"combine: {name}", l));
        Assert.Equal(qrLines.Length, solution.TablesYaml.Split("combine:").Length - 1);
        // The combine changes no row: same collisions, same planner bytes, still within the budget.
        Assert.Equal(reference.TablesYaml.Replace("combine: mult", $"combine: {name}", StringComparison.Ordinal), solution.TablesYaml);
        long planned = model.Plan(solution.TablesYaml, solution.MemoryBudget).Total.WeightBytes;
        Assert.Equal(reference.WeightBytes, planned);
        Assert.True(planned <= budget);
    }

    [Fact]
    public void ResultsAndReport_RecordTheCombine()
    {
        var frame = ResultsTable.ToFrame([], SuitePolicy.Threshold, QrCombine.Add);
        Assert.Equal("qr_combine", frame.Columns[^1].Name);
        Assert.Contains("partitions added", ReportWriter.MethodDescription("qr", SuitePolicy.Threshold, QrCombine.Add));
        Assert.Contains("partitions multiplied", ReportWriter.MethodDescription("qr", SuitePolicy.Threshold));
        Assert.StartsWith("concat", SuiteQrCombine.Describe(QrCombine.Concat));
    }
}
