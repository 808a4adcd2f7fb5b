using System.Text.Json;
using RecsysEmbed.Cli;
using static RecsysEmbed.Tests.Config.TestConfigs;

namespace RecsysEmbed.Tests.Config;

/// <summary><c>recsys-embed tables</c>, run in-process through <see cref="Program.Run"/>.</summary>
public class TablesCommandTests
{
    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Json_OnCriteoUe_HasTheExpectedTotals()
    {
        var (code, stdout, stderr) = Run("tables", "--config", ShippedConfig("criteo-ue.yaml"), "--json");
        Assert.Equal(0, code);
        Assert.Empty(stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.Equal("criteo-ue", root.GetProperty("name").GetString());
        Assert.Equal(64L << 20, root.GetProperty("memory_budget_bytes").GetInt64());

        // One unified table of 64 MiB / (16 x 4 B) = 1,048,576 buckets; row-wise Adagrad keeps one float per row.
        var table = Assert.Single(root.GetProperty("tables").EnumerateArray());
        Assert.Equal("ue", table.GetProperty("family").GetString());
        Assert.Equal(1_048_576, table.GetProperty("buckets").GetInt64());
        Assert.Equal(26, table.GetProperty("features").GetArrayLength());
        var totals = root.GetProperty("totals");
        Assert.Equal(16_777_216, totals.GetProperty("weight_parameters").GetInt64());
        Assert.Equal(67_108_864, totals.GetProperty("weight_bytes").GetInt64());
        Assert.Equal(1_048_576, totals.GetProperty("optimizer_parameters").GetInt64());
        Assert.Equal(4_194_304, totals.GetProperty("optimizer_bytes").GetInt64());
        Assert.Equal(71_303_168, totals.GetProperty("total_bytes").GetInt64());

        // Baseline: 33,762,577 Criteo ids as full tables of 16 floats.
        var baseline = root.GetProperty("baseline");
        Assert.Equal(33_762_577, baseline.GetProperty("rows").GetInt64());
        Assert.Equal(2_160_804_928, baseline.GetProperty("memory").GetProperty("weight_bytes").GetInt64());
        Assert.Equal(2_160_804_928.0 / 67_108_864, root.GetProperty("compression_ratio").GetDouble(), 3);

        var c3 = root.GetProperty("features").EnumerateArray().Single(f => f.GetProperty("name").GetString() == "C3");
        Assert.Equal(10_131_227, c3.GetProperty("cardinality").GetInt64());
        Assert.Equal(16, c3.GetProperty("output_dim").GetInt32());
        Assert.Equal(32, c3.GetProperty("column").GetInt32());
    }

    [Fact]
    public void Json_ListsDynamicFeaturesAndQrRadices()
    {
        var (code, stdout, _) = Run("tables", "-c", ShippedConfig("avazu-ue.yaml"), "--json");
        Assert.Equal(0, code);
        using var avazu = JsonDocument.Parse(stdout);
        var ip = avazu.RootElement.GetProperty("features").EnumerateArray().Single(f => f.GetProperty("name").GetString() == "device_ip");
        Assert.True(ip.GetProperty("dynamic").GetBoolean());
        Assert.False(ip.TryGetProperty("cardinality", out _));

        (code, stdout, _) = Run("tables", "-c", ShippedConfig("criteo-qr.yaml"), "--json");
        Assert.Equal(0, code);
        using var qr = JsonDocument.Parse(stdout);
        var c3 = qr.RootElement.GetProperty("tables").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "t_C3");
        Assert.Equal([2_532_807L, 4L], c3.GetProperty("radices").EnumerateArray().Select(r => r.GetInt64()));
        Assert.Equal("mult", c3.GetProperty("combine").GetString());
    }

    [Fact]
    public void Table_PrintsPlanTotalsBaselineAndCompression()
    {
        var (code, stdout, stderr) = Run("tables", "--config", ShippedConfig("criteo-hash.yaml"));
        Assert.Equal(0, code);
        Assert.Empty(stderr);
        Assert.Contains("t_C3", stdout);
        Assert.Contains("hash", stdout);
        Assert.Contains("256.0 MiB", stdout);
        Assert.Contains("Baseline:    33,762,577 rows x 16", stdout);
        Assert.Contains("Compression: 8.0", stdout);
        Assert.DoesNotContain("\u001b[", stdout); // no ANSI codes when not writing to a terminal
    }

    [Fact]
    public void BadConfig_ExitsTwo_WithKeyPathOnStderr()
    {
        string path = Path.Combine(Path.GetTempPath(), $"recsys-embed-bad-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, Model("tables:\n  - {name: q, family: qr, features: [a, b], collisions: 1}\ndefault_table: {family: hash, buckets: 10}"));
        try
        {
            var (code, stdout, stderr) = Run("tables", "--config", path);
            Assert.Equal(2, code);
            Assert.Empty(stdout);
            Assert.Contains("tables[0].collisions: 1 is invalid", stderr);
            Assert.Single(stderr.TrimEnd().Split('\n'));
            Assert.DoesNotContain("   at ", stderr); // no stack trace
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void UnknownKey_ExitsTwo_WithKeyPathOnStderr()
    {
        string path = Path.Combine(Path.GetTempPath(), $"recsys-embed-bad-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, Model("default_table: {family: hash, bukets: 10}"));
        try
        {
            var (code, _, stderr) = Run("tables", "--config", path, "--json");
            Assert.Equal(2, code);
            Assert.Contains("default_table.bukets: unknown key 'bukets'", stderr);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MissingFile_ExitsTwo()
    {
        var (code, stdout, stderr) = Run("tables", "--config", "/nonexistent/model.yaml");
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Equal("error: config file not found: /nonexistent/model.yaml", stderr.Trim());
    }

    [Fact]
    public void MissingOption_ExitsTwo()
    {
        var (code, _, stderr) = Run("tables");
        Assert.Equal(2, code);
        Assert.Contains("--config", stderr);
    }

    [Fact]
    public void Help_ExitsZero()
    {
        var (code, stdout, _) = Run("tables", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--config", stdout);
    }
}
