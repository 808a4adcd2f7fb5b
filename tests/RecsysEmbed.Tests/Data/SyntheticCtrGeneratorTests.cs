using System.Security.Cryptography;
using System.Text.Json;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Synthetic;

namespace RecsysEmbed.Tests.Data;

public class SyntheticCtrGeneratorTests
{
    private static (byte[] Bytes, SyntheticResult Result) Generate(SyntheticOptions options)
    {
        using var stream = new MemoryStream();
        var result = new SyntheticCtrGenerator(options).Generate(stream);
        return (stream.ToArray(), result);
    }

    [Theory]
    [InlineData(SyntheticSchemaKind.Criteo, 0.0)]
    [InlineData(SyntheticSchemaKind.Avazu, 0.0)]
    [InlineData(SyntheticSchemaKind.Criteo, 50.0)]
    public void SameSeed_SameBytes_AnyThreadCount_DifferentSeed_DifferentBytes(SyntheticSchemaKind schema, double drift)
    {
        var options = new SyntheticOptions { Schema = schema, Rows = 5000, Seed = 42, Drift = drift, ChunkRows = 512 };
        var one = Generate(options with { Threads = 1 });
        var four = Generate(options with { Threads = 4 });
        var again = Generate(options with { Threads = 2 });
        var other = Generate(options with { Seed = 43 });
        Assert.Equal(SHA256.HashData(one.Bytes), SHA256.HashData(four.Bytes));
        Assert.Equal(SHA256.HashData(one.Bytes), SHA256.HashData(again.Bytes));
        Assert.NotEqual(SHA256.HashData(one.Bytes), SHA256.HashData(other.Bytes));
        Assert.Equal(one.Result.BestAuc, four.Result.BestAuc);
        Assert.Equal(one.Result.Positives, four.Result.Positives);
    }

    [Fact]
    public void Drift_ChangesTheData()
    {
        var options = new SyntheticOptions { Rows = 3000, Seed = 5 };
        Assert.NotEqual(Generate(options).Bytes, Generate(options with { Drift = 100 }).Bytes);
    }

    [Theory]
    [InlineData(SyntheticSchemaKind.Criteo, 0.0)]
    [InlineData(SyntheticSchemaKind.Avazu, 20.0)]
    public void BestAuc_EqualsAnIndependentPairwiseAuc_OfProbabilitiesRecomputedFromTheLines(SyntheticSchemaKind schema, double drift)
    {
        var options = new SyntheticOptions { Schema = schema, Rows = 1500, Seed = 9, Drift = drift, KeepProbabilities = true, ChunkRows = 256 };
        var generator = new SyntheticCtrGenerator(options);
        using var stream = new MemoryStream();
        var result = generator.Generate(stream);

        // probabilities recomputed from each written line (the parsing path, separate from the generation path)
        var lines = System.Text.Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var dataLines = schema == SyntheticSchemaKind.Avazu ? lines[1..] : lines;
        Assert.Equal(1500, dataLines.Length);
        var probabilities = new double[dataLines.Length];
        var labels = new byte[dataLines.Length];
        for (int i = 0; i < dataLines.Length; i++)
        {
            probabilities[i] = generator.Model.TrueProbability(i, dataLines[i]);
            labels[i] = (byte)(dataLines[i].Split(schema == SyntheticSchemaKind.Avazu ? ',' : '\t')[schema == SyntheticSchemaKind.Avazu ? 1 : 0] == "1" ? 1 : 0);
            Assert.Equal(result.Probabilities![i], probabilities[i], 12);
            Assert.Equal(result.Labels![i], labels[i]);
        }
        Assert.Equal(BinaryMetricsTests.NaiveAuc(probabilities, labels), result.BestAuc, 9);
        double logLoss = probabilities.Select((p, i) => labels[i] == 1 ? -Math.Log(p) : -Math.Log(1 - p)).Average();
        Assert.Equal(logLoss, result.BestLogLoss, 9);
        Assert.InRange(result.BestAuc, 0.6, 0.95);
    }

    [Fact]
    public void Ctr_IsNearTheTarget()
    {
        var (_, result) = Generate(new SyntheticOptions { Rows = 40_000, Seed = 3 });
        Assert.InRange(result.Ctr, 0.22, 0.28);
        Assert.InRange(result.MeanProbability, 0.22, 0.28);
    }

    [Fact]
    public void RoundTrip_CriteoFile_ReadsBackWithTheMetaRowCountAndCtr()
    {
        using var dir = new TempDir();
        string path = dir.PathOf("synth.tsv");
        var generator = new SyntheticCtrGenerator(new SyntheticOptions { Rows = 20_000, Seed = 11, MaxCardinality = 100_000 });
        var result = generator.GenerateFile(path);
        using var meta = JsonDocument.Parse(File.ReadAllText(SyntheticCtrGenerator.MetaPath(path)));
        var root = meta.RootElement;
        Assert.Equal("criteo", root.GetProperty("schema").GetString());
        Assert.Equal(11UL, root.GetProperty("seed").GetUInt64());
        Assert.Equal(20_000, root.GetProperty("rows").GetInt64());
        Assert.Equal(result.BestAuc, root.GetProperty("best_auc").GetDouble());
        Assert.Equal(result.BestLogLoss, root.GetProperty("best_log_loss").GetDouble());
        Assert.Equal(100_000, root.GetProperty("categorical")[2].GetProperty("cardinality").GetInt64());

        using var reader = new CriteoReader(path);
        long rows = 0;
        double positives = 0;
        int emptyBags = 0;
        foreach (var batch in reader.ReadBatches(1024, reuseBuffers: true))
        {
            rows += batch.BatchSize;
            foreach (float y in batch.Labels) positives += y;
            var c22 = batch.Sparse.Feature("C22");
            for (int b = 0; b < batch.BatchSize; b++) if (c22.BagLength(b) == 0) emptyBags++;
        }
        Assert.Equal(root.GetProperty("rows").GetInt64(), rows);
        Assert.Equal(root.GetProperty("ctr").GetDouble(), positives / rows, 12);
        Assert.Equal(0, reader.Report.SkippedRecords);
        Assert.InRange(emptyBags / (double)rows, 0.72, 0.80); // C22 is missing in about 76% of rows
    }

    [Fact]
    public void RoundTrip_AvazuFile_ReadsBackWithTheMetaRowCountAndCtr()
    {
        using var dir = new TempDir();
        string path = dir.PathOf("synth.csv");
        var result = new SyntheticCtrGenerator(new SyntheticOptions { Schema = SyntheticSchemaKind.Avazu, Rows = 10_000, Seed = 2, Drift = 5 }).GenerateFile(path);
        using var reader = new AvazuReader(path);
        Assert.Equal(23, reader.Schema.SparseCount);
        long rows = 0;
        double positives = 0;
        foreach (var batch in reader.ReadBatches(999, reuseBuffers: true))
        {
            rows += batch.BatchSize;
            foreach (float y in batch.Labels) positives += y;
        }
        Assert.Equal(result.Rows, rows);
        Assert.Equal(result.Positives, (long)positives);
    }

    [Fact]
    public void RawValues_AreDistinctPerValueIndex()
    {
        var model = new SyntheticCtrGenerator(new SyntheticOptions { Schema = SyntheticSchemaKind.Avazu, Rows = 10 }).Model;
        for (int f = 0; f < model.Categorical.Count; f++)
        {
            long n = Math.Min(model.Categorical[f].Cardinality, 20_000);
            var seen = new HashSet<uint>();
            for (long i = 0; i < n; i++) Assert.True(seen.Add(model.RawValue(f, i)), $"{model.Categorical[f].Name}: value {i} collides");
            if (model.Categorical[f].Format == RawValueFormat.Decimal)
                Assert.All(seen, raw => Assert.True(raw < model.Categorical[f].Cardinality));
        }
    }

    [Fact]
    public void Options_AreValidated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SyntheticCtrGenerator(new SyntheticOptions { Rows = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SyntheticCtrGenerator(new SyntheticOptions { Drift = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SyntheticCtrGenerator(new SyntheticOptions { MaxCardinality = (1L << 32) + 1 }));
        var (bytes, empty) = Generate(new SyntheticOptions { Rows = 0 });
        Assert.Empty(bytes);
        Assert.True(double.IsNaN(empty.BestAuc));
    }
}
