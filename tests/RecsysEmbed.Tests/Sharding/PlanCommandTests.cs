using System.Text.Json;
using RecsysEmbed.Cli;
using static RecsysEmbed.Tests.Config.TestConfigs;

namespace RecsysEmbed.Tests.Sharding;

/// <summary>`plan` and `plan simulate` in-process on the shipped Criteo config (planning only, nothing allocated).</summary>
public class PlanCommandTests
{
    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static readonly string Criteo = ShippedConfig("criteo-full.yaml");

    [Fact]
    public void Plan_Json_PlacesEveryTableAndSplitsTraffic()
    {
        var (code, stdout, stderr) = Run("plan", "--config", Criteo, "--hosts", "2", "--workers-per-host", "4", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal("table-wise", root.GetProperty("strategy").GetString());
        Assert.Equal(26, root.GetProperty("shards").GetArrayLength());
        // Weights of all shards = the config's 33,762,577 ids x 16 floats x 4 B.
        Assert.Equal(33_762_577L * 16 * 4, root.GetProperty("shards").EnumerateArray().Sum(s => s.GetProperty("weight_bytes").GetInt64()));
        Assert.True(root.GetProperty("inter_bytes_per_step").GetDouble() > 0 && root.GetProperty("intra_bytes_per_step").GetDouble() > 0);
    }

    [Fact]
    public void Plan_Towers_CutsInterHostBytesPerSample()
    {
        var (_, flatOut, _) = Run("plan", "--config", Criteo, "--hosts", "4", "--workers-per-host", "2", "--json");
        var (code, towerOut, stderr) = Run("plan", "--config", Criteo, "--hosts", "4", "--workers-per-host", "2", "--towers", "4", "--tower-vectors", "1", "--json");
        Assert.True(code == 0, stderr);
        double flat = JsonDocument.Parse(flatOut).RootElement.GetProperty("inter_bytes_per_sample").GetDouble();
        var tower = JsonDocument.Parse(towerOut).RootElement;
        Assert.Equal(4, tower.GetProperty("towers").GetArrayLength());
        Assert.True(tower.GetProperty("inter_bytes_per_sample").GetDouble() < flat);
    }

    [Fact]
    public void Plan_RefusesAPlanThatDoesNotFit()
    {
        var (code, _, stderr) = Run("plan", "--config", Criteo, "--hosts", "1", "--workers-per-host", "2", "--memory-per-worker", "1GiB");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--memory-per-worker: 1.0 GiB is too small", stderr);
        (code, _, stderr) = Run("plan", "--config", Criteo, "--hosts", "1", "--workers-per-host", "2", "--memory-per-worker", "lots");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("'lots'", stderr);
    }

    [Fact]
    public void Simulate_ReportsFlatAndDmtStepTimesPerClusterSize()
    {
        var (code, stdout, stderr) = Run("plan", "simulate", "--config", Criteo, "--workers", "64,128", "--json");
        Assert.True(code == 0, stderr);
        var results = JsonDocument.Parse(stdout).RootElement.GetProperty("results");
        Assert.Equal(2, results.GetArrayLength());
        foreach (var r in results.EnumerateArray())
        {
            double flat = r.GetProperty("flat_total_ms").GetDouble(), dmt = r.GetProperty("dmt_total_ms").GetDouble();
            Assert.True(flat > 0 && dmt > 0);
            Assert.Equal(flat / dmt, r.GetProperty("speedup").GetDouble(), 9);
        }
        (code, _, stderr) = Run("plan", "simulate", "--config", Criteo, "--workers", "60");
        Assert.Equal(Program.UsageError, code);
        Assert.Contains("--workers: 60", stderr);
    }
}
