using RecsysEmbed.Cli;
using RecsysEmbed.CompressionBench;

namespace RecsysEmbed.Tests.CompressionBench;

/// <summary>Bad suite arguments fail before any work, naming the option and the value; the CLI exits with 2.</summary>
public sealed class SuiteInputTests
{
    public static TheoryData<string[], string, string> BadArguments => new()
    {
        { ["--methods", "hash,zip"], "--methods", "'zip' is unknown" },
        { ["--data", "synth:avazu"], "--data", "synth:avazu" },
        { ["--data", "/nonexistent/criteo.tsv"], "--data", "/nonexistent/criteo.tsv" },
        { ["--budgets", "1,0"], "--budgets", "0 is outside (0, 1]" },
        { ["--budgets", "0.5,1.5"], "--budgets", "1.5 is outside (0, 1]" },
        { ["--budgets", "-0.25"], "--budgets", "-0.25 is outside (0, 1]" },
        { ["--budgets", "half"], "--budgets", "'half'" },
        { ["--model", "wide-deep"], "--model", "'wide-deep' is unknown" },
        { ["--repeats", "0"], "--repeats", "0 must be >= 1" },
        { ["--policy", "strict"], "--policy", "'strict' is unknown; expected cap or uniform" },
        { ["--policy", "Uniform"], "--policy", "'Uniform' is unknown" },
        { ["--qr-combine", "multiply"], "--qr-combine", "'multiply' is unknown; expected mult or add or concat" },
        { ["--qr-combine", "Add"], "--qr-combine", "'Add' is unknown" },
    };

    [Theory]
    [MemberData(nameof(BadArguments))]
    public void Cli_RefusesBadInputNamingOptionAndValue(string[] bad, string option, string fragment)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"suite-bad-{Guid.NewGuid():N}");
        var args = new List<string> { "bench", "compression", "--data", "synth:criteo:1000", "--methods", "hash", "--budgets", "1", "--out", dir };
        for (int i = 0; i < bad.Length; i += 2)
        {
            int at = args.IndexOf(bad[i]);
            if (at >= 0) args[at + 1] = bad[i + 1];
            else args.AddRange([bad[i], bad[i + 1]]);
        }
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(args.ToArray(), stdout, stderr);
        Assert.Equal(Program.UsageError, code);
        Assert.Contains($"error: {option}:", stderr.ToString());
        Assert.Contains(fragment, stderr.ToString());
        Assert.False(Directory.Exists(dir), "a refused run created its output folder");
    }

    private static SuiteOptions Options(string dir, int repeats = 1) =>
        new() { Data = "synth:criteo:1000", Methods = ["hash"], Budgets = [1], Repeats = repeats, OutDir = dir };

    [Fact]
    public void OutputFolderOfADifferentRun_IsRefusedAndLeftAsItWas()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"suite-other-{Guid.NewGuid():N}");
        try
        {
            RunFolder.Open(Options(dir, repeats: 3));
            string marker = Path.Combine(dir, "summary.md");
            File.WriteAllText(marker, "earlier results");
            var before = Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Select(f => (f, File.ReadAllText(f))).ToArray();

            // Fewer repeats is another run (more would extend this one).
            var e = Assert.Throws<SuiteInputException>(() => RunFolder.Open(Options(dir, repeats: 1)));

            Assert.Equal("--out", e.Field);
            Assert.Contains("holds a different run", e.Message);
            Assert.Contains("repeats=3 -> repeats=1", e.Message);
            Assert.Equal(before, Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Select(f => (f, File.ReadAllText(f))).ToArray());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void MoreRepeats_ExtendTheRun_ButAnotherChangeWithThemIsRefused()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"suite-more-{Guid.NewGuid():N}");
        try
        {
            RunFolder.Open(Options(dir, repeats: 1));
            RunFolder.Open(Options(dir, repeats: 3));
            Assert.Contains("repeats=3", File.ReadAllText(Path.Combine(dir, "run.txt")));

            var e = Assert.Throws<SuiteInputException>(() => RunFolder.Open(Options(dir, repeats: 5) with { Seed = 8 }));
            Assert.Contains("holds a different run", e.Message);
            Assert.Contains("repeats=3", File.ReadAllText(Path.Combine(dir, "run.txt")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void NonEmptyFolderThatIsNoRun_IsRefused()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"suite-foreign-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "notes.txt"), "mine");
            var e = Assert.Throws<SuiteInputException>(() => RunFolder.Open(Options(dir)));
            Assert.Contains("holds no suite run", e.Message);
            Assert.Equal(["notes.txt"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>--max-minutes: a run past its limit starts no cell, writes what it has marked incomplete, and a rerun finishes it (with DCN-v2).</summary>
[Collection(nameof(TinySuiteCollection))]
public sealed class SuiteTimeLimitTests
{
    [Fact]
    public void PastTheLimit_NoCellStartsAndARerunFinishes()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"suite-limit-{Guid.NewGuid():N}");
        try
        {
            var options = new SuiteOptions
            {
                Data = "synth:criteo:1500", Model = "dcnv2", Methods = ["ue"], Budgets = [0.5], Repeats = 1, OutDir = dir, BottomMlp = [4], TopMlp = [4],
                BatchSize = 500, Threads = 1, LatencyRequests = 10, MaxMinutes = 1e-9, // already past once the data is ready
            };
            var stopped = CompressionSuite.Run(options, new StringWriter());
            Assert.False(stopped.Complete);
            Assert.Equal((0, 1), (stopped.Ran, stopped.Remaining));
            Assert.Contains("Incomplete run", File.ReadAllText(Path.Combine(dir, "summary.md")));

            var finished = CompressionSuite.Run(options with { MaxMinutes = null }, new StringWriter());
            Assert.True(finished.Complete);
            Assert.Equal(1, finished.Ran);
            Assert.DoesNotContain("Incomplete run", File.ReadAllText(Path.Combine(dir, "summary.md")));
            var cell = Directory.GetFiles(Path.Combine(dir, "cells")).Single();
            Assert.Contains("kind: dcnv2", File.ReadAllText(cell));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>ue2 (two probes of half width) trains end to end in the suite, in ue's bytes.</summary>
[Collection(nameof(TinySuiteCollection))]
public sealed class SuiteMultiProbeTests
{
    [Fact]
    public void Ue2_TrainsInUesBytes_WithItsOwnTables()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"suite-ue2-{Guid.NewGuid():N}");
        try
        {
            var options = new SuiteOptions
            {
                Data = "synth:criteo:1500", Methods = ["ue", "ue2"], Budgets = [0.0625], Repeats = 1, OutDir = dir, BottomMlp = [4], TopMlp = [4],
                BatchSize = 500, Threads = 1, LatencyRequests = 10,
            };
            var outcome = CompressionSuite.Run(options, new StringWriter());
            Assert.Equal(2, outcome.Ran);
            var rows = Microsoft.Data.Analysis.DataFrame.LoadCsv(Path.Combine(dir, "results.csv")).Rows
                .ToDictionary(r => (string)r["method"], r => (Status: (string)r["status"], Bytes: Convert.ToInt64(r["weight_bytes"]),
                                                              Auc: Convert.ToDouble(r["auc"]), Parameters: (string)r["parameters"]));
            Assert.Equal("ok", rows["ue"].Status);
            Assert.Equal("ok", rows["ue2"].Status);
            Assert.Equal(rows["ue"].Bytes, rows["ue2"].Bytes);
            Assert.Contains("probes=2", rows["ue2"].Parameters);
            Assert.InRange(rows["ue2"].Auc, 0.0, 1.0);
            Assert.NotEqual(rows["ue"].Auc, rows["ue2"].Auc); // different tables, so different predictions
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
