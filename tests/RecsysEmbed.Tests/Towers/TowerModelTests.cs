using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Models;
using RecsysEmbed.Towers;
using RecsysEmbed.Towers.Execution;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Tests.Towers;

/// <summary>
/// The tower model against references computed by TorchSharp autograd: identity towers must be the flat DLRM
/// (same outputs, same dense and embedding gradients); with compressing tower modules, splitting the graph at the
/// tower outputs must give the gradients of one autograd graph over the whole model.
/// </summary>
public class TowerModelTests
{
    /// <summary>The flat reference: CtrTrainer over the tables in the given order.</summary>
    private static CtrTrainer Flat(EmbeddingPlan plan, IReadOnlyList<int> tableOrder)
    {
        var built = plan.Build();
        var tables = new EmbeddingCollection(tableOrder.Select(i => built[i]).ToArray()) { Threads = 1 };
        var config = plan.Config;
        var model = new DlrmModel(config.DenseFeatures.Count, tables.FeatureColumns.ToList(), config.EmbeddingDim, config.Model);
        return new CtrTrainer(tables, model, config.DenseFeatures.Count, config.DenseOptimizer);
    }

    [Theory]
    [InlineData(new[] { 0, 0, 1, 1, 2, 2 }, true)]
    [InlineData(new[] { 0, 1, 2, 0, 1, 2 }, true)]
    [InlineData(new[] { 1, 0, 1, 0, 0, 1 }, false)]
    public void IdentityTowers_ComputeTheFlatModel_OutputsAndGradients(int[] towerOfTable, bool parallel)
    {
        torch.set_num_threads(1);
        torch.manual_seed(7);
        var config = TowerTestModels.Config(pooling: "mean");
        var plan = EmbeddingPlan.Create(config);
        var towers = TowerPlan.FromAssignment(plan, towerOfTable);
        using var tower = TowerTrainer.Build(config, plan, towers, new TowerModuleConfig(TowerModuleKind.Identity), threads: 1, parallel);
        // The flat model sees the features in tower order, so its pairs line up with the tower model's.
        var order = Enumerable.Range(0, plan.Tables.Count).OrderBy(i => towerOfTable[i]).ThenBy(i => i).ToArray();
        using var flat = Flat(plan, order);
        tower.Coordinator.Module.load_state_dict(flat.Model.Module.state_dict());

        var flatPredictions = new float[16];
        var towerPredictions = new float[16];
        for (int step = 0; step < 3; step++)
        {
            var (sparse, dense, labels) = TowerTestModels.Batch(100 + step);
            float flatLoss = flat.TrainStep(sparse, dense, labels, flatPredictions);
            float towerLoss = tower.TrainStep(sparse, dense, labels, towerPredictions);
            Assert.Equal(flatLoss, towerLoss, 1e-5);
            for (int i = 0; i < 16; i++) Assert.Equal(flatPredictions[i], towerPredictions[i], 1e-5);

            // Dense gradients: TrainStep leaves them in .grad (zeroed at the start of the next step).
            var flatParams = flat.Model.Module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in tower.Coordinator.Module.named_parameters())
                AssertClose(flatParams[name].grad!, p.grad!, $"step {step} grad {name}");

            // Embedding gradients: with sparse SGD a row moves by -lr x its gradient, so equal rows after each step
            // (from equal rows before) mean equal gradients.
            var towerTables = tower.CheckpointTables.ToDictionary(t => t.Name);
            foreach (var t in flat.Tables.Tables)
            {
                var expected = t.Matrices[0].CopyWeights();
                var actual = towerTables[t.Name].Matrices[0].CopyWeights();
                for (int k = 0; k < expected.Length; k++) Assert.True(Math.Abs(expected[k] - actual[k]) < 1e-5, $"step {step} table {t.Name}[{k}]: {expected[k]} vs {actual[k]}");
            }
        }
    }

    [Theory]
    [InlineData(TowerModuleKind.Projection, true)]
    [InlineData(TowerModuleKind.Projection, false)]
    [InlineData(TowerModuleKind.DotMlp, true)]
    [InlineData(TowerModuleKind.DotMlp, false)]
    public void CompressingTowers_SplitGraphGradientsEqualOneAutogradGraph(TowerModuleKind kind, bool parallel)
    {
        torch.set_num_threads(1);
        torch.manual_seed(11);
        var config = TowerTestModels.Config();
        var plan = EmbeddingPlan.Create(config);
        var towers = TowerPlan.FromAssignment(plan, [0, 1, 0, 1, 1, 0]);
        using var trainer = TowerTrainer.Build(config, plan, towers, new TowerModuleConfig(kind, OutputVectors: 2, Hidden: 8), threads: 1, parallel);
        var executor = (LocalTowerExecutor)trainer.Executor;
        // One id per bag, sum pooling: a row's gradient is the sum of the pooled gradients of the bags holding it.
        var (sparse, dense, labels) = TowerTestModels.Batch(5, maxIds: 1, minIds: 1);
        int batch = sparse.BatchSize;

        // Reference: one graph from the pooled embeddings through the tower modules to the loss.
        using var scope = torch.NewDisposeScope();
        var embs = new List<Tensor>();
        var outs = new List<Tensor>();
        foreach (var t in executor.LocalTowers)
        {
            var values = new float[batch * t.InputFloats];
            t.Tables.Forward(sparse, values);
            var e = torch.tensor(values, [batch, t.InputFloats]).requires_grad_(true);
            embs.Add(e);
            outs.Add(((nn.Module<Tensor, Tensor>)t.Module).call(e));
        }
        var logits = trainer.Coordinator.Forward(torch.tensor(dense, [batch, TowerTestModels.DenseCount]), torch.cat(outs, 1));
        var loss = nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(labels));
        var moduleParams = executor.LocalTowers.SelectMany(t => t.Module.parameters()).ToArray();
        var coordinatorParams = trainer.Coordinator.Module.parameters().ToArray();
        var inputs = embs.Concat(moduleParams).Concat(coordinatorParams).ToArray();
        var grads = torch.autograd.grad([loss], inputs);
        var rowsBefore = executor.LocalTowers.SelectMany(t => t.Tables.Tables).ToDictionary(t => t.Name, t => t.Matrices[0].CopyWeights());
        float expectedLoss = loss.item<float>();

        float actualLoss = trainer.TrainStep(sparse, dense, labels, new float[batch]);

        Assert.Equal(expectedLoss, actualLoss, 1e-5);
        for (int i = 0; i < moduleParams.Length; i++) AssertClose(grads[embs.Count + i], moduleParams[i].grad!, $"tower module parameter {i}");
        for (int i = 0; i < coordinatorParams.Length; i++) AssertClose(grads[embs.Count + moduleParams.Length + i], coordinatorParams[i].grad!, $"coordinator parameter {i}");
        for (int t = 0; t < embs.Count; t++)
        {
            var tower = executor.LocalTowers[t];
            var embGrad = grads[t].data<float>().ToArray();
            int column = 0;
            foreach (var table in tower.Tables.Tables)
            {
                var expected = rowsBefore[table.Name];
                var f = sparse.Feature(table.Features[0].Name);
                for (int b = 0; b < batch; b++)
                {
                    long row = f.Ids[f.BagStart(b)];
                    for (int k = 0; k < TowerTestModels.Dim; k++)
                        expected[row * TowerTestModels.Dim + k] -= TowerTestModels.SparseLearningRate * embGrad[b * tower.InputFloats + column + k];
                }
                var actual = table.Matrices[0].CopyWeights();
                for (int k = 0; k < expected.Length; k++) Assert.True(Math.Abs(expected[k] - actual[k]) < 1e-5, $"{table.Name}[{k}]: {expected[k]} vs {actual[k]}");
                column += table.OutputWidth;
            }
        }
    }

    [Fact]
    public void Executor_CountsIdsOutputsAndGradientsCrossingTowerBoundaries()
    {
        torch.set_num_threads(1);
        var config = TowerTestModels.Config();
        var plan = EmbeddingPlan.Create(config);
        using var trainer = TowerTrainer.Build(config, plan, TowerPlan.FromAssignment(plan, [0, 0, 1, 1, 2, 2]),
                                               new TowerModuleConfig(TowerModuleKind.Projection, OutputVectors: 1), threads: 1, parallel: true);
        long ids = 0, samples = 0;
        for (int step = 0; step < 3; step++)
        {
            var (sparse, dense, labels) = TowerTestModels.Batch(step, maxIds: 3);
            trainer.TrainStep(sparse, dense, labels, new float[16]);
            ids += sparse.ValueCount;
            samples += sparse.BatchSize;
        }
        var traffic = trainer.Executor.Traffic;
        Assert.Equal(48, traffic.TrainingSamples);
        Assert.Equal(8 * ids + 4 * samples * TowerTestModels.Features.Length, traffic.IdBytes);
        // 3 towers x 1 vector of 4 floats out per sample, and as many gradient floats back.
        Assert.Equal(samples * 3 * 4 * sizeof(float), traffic.OutputBytes);
        Assert.Equal(traffic.OutputBytes, traffic.GradientBytes);
    }

    [Fact]
    public void ThreadedExecutor_RethrowsATowerError_AndKeepsWorking()
    {
        torch.set_num_threads(1);
        var config = TowerTestModels.Config();
        var plan = EmbeddingPlan.Create(config);
        using var trainer = TowerTrainer.Build(config, plan, TowerPlan.FromAssignment(plan, [0, 0, 1, 1, 2, 2]),
                                               new TowerModuleConfig(TowerModuleKind.Projection, OutputVectors: 1), threads: 1, parallel: true);
        var (good, dense, labels) = TowerTestModels.Batch(1);
        var builder = new RecsysEmbed.Core.Batching.KeyedJaggedBatchBuilder(TowerTestModels.Features[..5]);
        for (int b = 0; b < 16; b++) { builder.AddId(0, 1); builder.EndSample(); }
        var missing = builder.Build();

        var e = Assert.ThrowsAny<ArgumentException>(() => trainer.TrainStep(missing, dense, labels, new float[16]));
        Assert.Contains("C6", e.Message);
        float loss = trainer.TrainStep(good, dense, labels, new float[16]);
        Assert.True(float.IsFinite(loss) && loss > 0);
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double diff = (expected - actual).abs().max().item<float>();
        double scale = Math.Max(1e-3, expected.abs().max().item<float>());
        Assert.True(diff <= 1e-4 * scale + 1e-6, $"{what}: max difference {diff} (scale {scale})");
    }
}
