using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Tests.Training;

/// <summary>
/// The bridge between the engine's tables and TorchSharp: the gradient that reaches each table row must be
/// exactly torch autograd's gradient of the same loss w.r.t. that row.
/// </summary>
public class CtrTrainerTests
{
    private const int Batch = 12, DenseCount = 3, Dim = 4;

    private static (KeyedJaggedBatch Sparse, float[] Dense, float[] Labels) MakeBatch(int seed, IReadOnlyList<string> keys, long rows)
    {
        var rng = new Random(seed);
        var builder = new KeyedJaggedBatchBuilder(keys);
        var dense = new float[Batch * DenseCount];
        var labels = new float[Batch];
        for (int b = 0; b < Batch; b++)
        {
            for (int f = 0; f < keys.Count; f++)
            {
                int n = rng.Next(0, 3); // empty bags and repeats included
                for (int i = 0; i < n; i++) builder.AddId(f, rng.Next(0, (int)rows / 2) * 2 % rows);
            }
            builder.EndSample();
            for (int d = 0; d < DenseCount; d++) dense[b * DenseCount + d] = (float)rng.NextDouble();
            labels[b] = rng.Next(2);
        }
        return (builder.Build(), dense, labels);
    }

    private static EmbeddingCollection FullTables(IReadOnlyList<string> keys, long rows, SparseOptimizerSettings opt) =>
        new(keys.Select((k, i) => (IEmbeddingTable)new FullTable(k, [new TableFeature(k, i == 0 ? PoolingMode.Sum : PoolingMode.Mean)], rows, Dim, opt,
            new TableInit(0.5f, (ulong)i + 1))).ToList());

    /// <summary>Torch replica of the tables: weights as leaf tensors, pooled per bag by index_select + sum/mean.</summary>
    private static (Tensor Embeddings, Tensor[] Weights) TorchEmbeddings(EmbeddingCollection tables, KeyedJaggedBatch batch)
    {
        var weights = new List<Tensor>();
        var columns = new List<Tensor>();
        foreach (var table in tables.Tables.Cast<FullTable>())
        {
            var w = torch.tensor(table.Weights.CopyWeights(), [table.Rows, table.Dim]).requires_grad_(true);
            weights.Add(w);
            var feature = batch.Feature(table.Features[0].Name);
            var bags = new List<Tensor>();
            for (int b = 0; b < feature.BagCount; b++)
            {
                int start = feature.BagStart(b), len = feature.BagLength(b);
                if (len == 0) { bags.Add(torch.zeros(table.Dim)); continue; }
                var rows = w.index_select(0, torch.tensor(feature.Ids.Slice(start, len).ToArray()));
                bags.Add(table.Features[0].Pooling == PoolingMode.Mean ? rows.mean([0]) : rows.sum(0L, false));
            }
            columns.Add(torch.stack(bags));
        }
        return (torch.cat(columns, 1), weights.ToArray());
    }

    [Theory]
    [InlineData(DenseModelKind.Dlrm)]
    [InlineData(DenseModelKind.DcnV2)]
    public void TrainStep_TableUpdateEqualsAutogradGradient(DenseModelKind kind)
    {
        torch.set_num_threads(1);
        torch.manual_seed(3);
        using var scope = torch.NewDisposeScope();
        string[] keys = ["C1", "C2", "C3"];
        const long rows = 40;
        const float lr = 1f;
        var tables = FullTables(keys, rows, SparseOptimizerSettings.Sgd(lr));
        tables.Threads = 1;
        var settings = new DenseModelConfig { Kind = kind, BottomMlp = [8], TopMlp = [8], CrossLayers = 2, DeepMlp = [8] };
        ICtrModel model = kind == DenseModelKind.Dlrm
            ? new DlrmModel(DenseCount, tables.FeatureColumns.ToList(), Dim, settings)
            : new DcnV2Model(DenseCount, tables.Width, settings);
        using var trainer = new CtrTrainer(tables, model, DenseCount, new DenseOptimizerConfig { Kind = DenseOptimizerKind.Adam, LearningRate = 1e-3 });
        var (sparse, dense, labels) = MakeBatch(7, keys, rows);

        // Reference gradient from autograd on a torch replica, before the trainer's step (same dense weights).
        var (emb, weights) = TorchEmbeddings(tables, sparse);
        var logits = model.Forward(torch.tensor(dense, [Batch, DenseCount]), emb);
        var loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(labels));
        loss.backward();
        var expectedGrads = weights.Select(w => w.grad!.data<float>().ToArray()).ToArray();
        var before = tables.Tables.Cast<FullTable>().Select(t => t.Weights.CopyWeights()).ToArray();
        model.Module.zero_grad();

        var predictions = new float[Batch];
        float trainerLoss = trainer.TrainStep(sparse, dense, labels, predictions);

        Assert.Equal(loss.item<float>(), trainerLoss, 5);
        var expectedProbs = torch.sigmoid(logits).data<float>().ToArray();
        for (int b = 0; b < Batch; b++) Assert.Equal(expectedProbs[b], predictions[b], 5);
        bool anyNonZero = false;
        for (int t = 0; t < keys.Length; t++)
        {
            var after = ((FullTable)tables.Tables[t]).Weights.CopyWeights();
            for (int i = 0; i < after.Length; i++)
            {
                float observed = (before[t][i] - after[i]) / lr;
                float expected = expectedGrads[t][i];
                anyNonZero |= expected != 0;
                Assert.True(Math.Abs(observed - expected) <= 1e-5 + 1e-3 * Math.Abs(expected),
                    $"table {keys[t]} element {i}: update/lr {observed} vs autograd {expected}");
                if (expected == 0) Assert.Equal(before[t][i], after[i]); // untouched rows never move
            }
        }
        Assert.True(anyNonZero);
    }

    [Fact]
    public void Dlrm_ProjectsFeaturesOfOtherWidths()
    {
        torch.manual_seed(5);
        using var scope = torch.NewDisposeScope();
        var opt = SparseOptimizerSettings.RowWiseAdagrad(0.1f);
        // Unified table with a 2-chunk (width 8) and a 1-chunk (width 4) feature, plus a 4-wide full table.
        var ue = new UnifiedTable("ue", [new UnifiedFeature("C1", 2), new UnifiedFeature("C2", 1)], 64, Dim, opt);
        var full = new FullTable("C3", [new TableFeature("C3")], 40, Dim, opt);
        var tables = new EmbeddingCollection([ue, full]);
        var model = new DlrmModel(DenseCount, tables.FeatureColumns.ToList(), Dim, new DenseModelConfig { BottomMlp = [8], TopMlp = [8] });
        using var trainer = new CtrTrainer(tables, model, DenseCount, new DenseOptimizerConfig());
        var (sparse, dense, labels) = MakeBatch(11, ["C1", "C2", "C3"], 40);
        var predictions = new float[Batch];
        float first = trainer.TrainStep(sparse, dense, labels, predictions);
        float last = first;
        for (int i = 0; i < 30; i++) last = trainer.TrainStep(sparse, dense, labels, predictions);
        Assert.True(float.IsFinite(first));
        Assert.True(last < first, $"loss should fall when fitting one batch: {first} -> {last}");
    }

    [Fact]
    public void TrainStep_IsDeterministicForASeedOnOneThread()
    {
        float[] Run()
        {
            torch.set_num_threads(1);
            torch.manual_seed(9);
            using var scope = torch.NewDisposeScope();
            string[] keys = ["C1", "C2"];
            var tables = FullTables(keys, 30, SparseOptimizerSettings.Adam(0.01f));
            tables.Threads = 1;
            var model = new DlrmModel(DenseCount, tables.FeatureColumns.ToList(), Dim, new DenseModelConfig { BottomMlp = [8], TopMlp = [8] });
            using var trainer = new CtrTrainer(tables, model, DenseCount, new DenseOptimizerConfig());
            var predictions = new float[Batch];
            for (int s = 0; s < 5; s++)
            {
                var (sparse, dense, labels) = MakeBatch(100 + s, keys, 30);
                trainer.TrainStep(sparse, dense, labels, predictions);
            }
            return ((FullTable)tables.Tables[0]).Weights.CopyWeights().Concat(predictions).ToArray();
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void TrainStep_RejectsLabelsOtherThanZeroOrOne()
    {
        using var scope = torch.NewDisposeScope();
        string[] keys = ["C1"];
        var tables = FullTables(keys, 10, SparseOptimizerSettings.Sgd(0.1f));
        var model = new DlrmModel(DenseCount, tables.FeatureColumns.ToList(), Dim, new DenseModelConfig { BottomMlp = [4], TopMlp = [4] });
        using var trainer = new CtrTrainer(tables, model, DenseCount, new DenseOptimizerConfig());
        var (sparse, dense, labels) = MakeBatch(1, keys, 10);
        labels[3] = 0.5f;
        var before = ((FullTable)tables.Tables[0]).Weights.CopyWeights();
        var ex = Assert.Throws<ArgumentException>(() => trainer.TrainStep(sparse, dense, labels, new float[Batch]));
        Assert.Contains("labels[3] = 0.5", ex.Message);
        Assert.Equal(before, ((FullTable)tables.Tables[0]).Weights.CopyWeights());
    }
}
