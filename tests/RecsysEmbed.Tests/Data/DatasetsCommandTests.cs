using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using RecsysEmbed.Cli;
using RecsysEmbed.Data.Synthetic;

namespace RecsysEmbed.Tests.Data;

public class DatasetsCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Synth_WritesFileAndMeta_PrintsBestAucAndSpeed_SameSeedSameBytes()
    {
        using var dir = new TempDir();
        string a = dir.PathOf("a.tsv"), b = dir.PathOf("b.tsv");
        var first = Run("datasets", "synth", "--schema", "criteo", "--rows", "3000", "--seed", "7", "--out", a);
        var second = Run("datasets", "synth", "--schema", "criteo", "--rows", "3000", "--seed", "7", "--out", b, "--threads", "1");
        Assert.True(first.Code == 0, first.Err);
        Assert.Equal(0, second.Code);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        Assert.Contains("rows/s", first.Out);

        var printed = double.Parse(Regex.Match(first.Out, @"best AUC ([0-9.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
        using var meta = JsonDocument.Parse(File.ReadAllText(a + ".meta.json"));
        Assert.Equal(meta.RootElement.GetProperty("best_auc").GetDouble(), printed, 6);
        Assert.Equal(7UL, meta.RootElement.GetProperty("seed").GetUInt64());

        // independent check: recompute each line's true probability from the planted model, pairwise AUC
        var model = new SyntheticCtrGenerator(new SyntheticOptions { Rows = 3000, Seed = 7 }).Model;
        var lines = File.ReadAllLines(a);
        var probabilities = lines.Select((line, i) => model.TrueProbability(i, line)).ToArray();
        var labels = lines.Select(line => (byte)(line[0] == '1' ? 1 : 0)).ToArray();
        Assert.Equal(BinaryMetricsTests.NaiveAuc(probabilities, labels), printed, 6);

        var read = Run("datasets", "read", "--format", "criteo", "--in", a);
        Assert.True(read.Code == 0, read.Err);
        Assert.Contains("3000 samples", read.Out);
        Assert.Contains($"label mean {meta.RootElement.GetProperty("ctr").GetDouble().ToString("F4", CultureInfo.InvariantCulture)}", read.Out);
    }

    [Fact]
    public void Synth_Avazu_WithDrift_RoundTripsThroughRead()
    {
        using var dir = new TempDir();
        string path = dir.PathOf("a.csv");
        var synth = Run("datasets", "synth", "--schema", "avazu", "--rows", "2000", "--seed", "1", "--out", path, "--drift", "10");
        Assert.True(synth.Code == 0, synth.Err);
        var read = Run("datasets", "read", "--format", "avazu", "--in", path, "--batch-size", "300");
        Assert.True(read.Code == 0, read.Err);
        Assert.Contains("2000 samples in 7 batches", read.Out);
    }

    [Fact]
    public void Read_MalformedFile_FailsWithTheLine_OrSkipsWithAReport()
    {
        using var dir = new TempDir();
        var lines = CriteoReaderTests.SampleLines(5).ToList();
        lines.Insert(2, "x\tbad");
        string file = dir.Write("bad.tsv", lines);
        var fail = Run("datasets", "read", "--format", "criteo", "--in", file);
        Assert.Equal(1, fail.Code);
        Assert.Contains("bad.tsv line 3", fail.Err);
        var skip = Run("datasets", "read", "--format", "criteo", "--in", file, "--on-malformed", "skip");
        Assert.Equal(0, skip.Code);
        Assert.Contains("skipped 1 malformed record(s)", skip.Out);
        Assert.Contains("bad.tsv line 3", skip.Out);
    }

    [Fact]
    public void Synth_UnknownSchema_IsAParseError()
    {
        var result = Run("datasets", "synth", "--schema", "movielens", "--rows", "10", "--out", "x");
        Assert.NotEqual(0, result.Code);
    }
}
