using System.Runtime.InteropServices;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Models;
using RecsysEmbed.Towers.Execution;
using RecsysEmbed.Towers.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Towers;

/// <summary>
/// The tower-aware DLRM, trained one batch at a time like <see cref="CtrTrainer"/> (so <see cref="TrainingRun"/>,
/// its checkpoints and metrics drive it unchanged). The towers run behind an <see cref="ITowerExecutor"/>; the
/// coordinator owns the bottom MLP, the global interaction and the top MLP, and sees only tower outputs:
/// <code>
///   executor.Forward(batch) ──writes──► tower outputs O (B x sum_t OutputFloats_t, torch storage)
///   O is read as d-wide vectors: identity towers keep their features, other towers give c vectors each
///   logits = DLRM(dense, O) ; loss.backward() ; executor.Backward(O.grad) ; coordinator optimizer step
/// </code>
/// With identity tower modules O is the flat model's pooled embeddings (tower order), so the model is the flat DLRM.
/// </summary>
public sealed class TowerTrainer : ICtrTrainer
{
    private readonly optim.Optimizer _optimizer;

    public TowerTrainer(ITowerExecutor executor, ICtrModel coordinator, int denseCount, DenseOptimizerConfig denseOptimizer)
    {
        Executor = executor;
        Coordinator = coordinator;
        DenseCount = denseCount;
        _optimizer = DenseOptimizers.Create(coordinator.Module.parameters(), denseOptimizer);
    }

    public ITowerExecutor Executor { get; }
    public ICtrModel Coordinator { get; }
    public int DenseCount { get; }
    public long Steps { get; private set; }
    public void RestoreSteps(long steps) => Steps = steps;
    public long DenseParameterCount => Coordinator.DenseParameterCount + DenseParts.Skip(1).Sum(p => p.Module.parameters().Sum(x => x.numel()));
    public IEnumerable<IEmbeddingTable> CheckpointTables => Executor.CheckpointTables;
    public IEnumerable<(string Name, nn.Module Module, optim.Optimizer Optimizer)> DenseParts =>
        new[] { ("dense", Coordinator.Module, _optimizer) }.Concat(Executor.DenseParts);

    /// <summary>
    /// Builds towers from a plan: tables from <paramref name="plan"/>, grouped as <paramref name="towers"/> says, a
    /// tower module each, and the coordinator DLRM over the tower outputs. <paramref name="parallel"/>: each tower on
    /// its own thread (its tables' kernels then use one thread), else one after another with <paramref name="threads"/>.
    /// </summary>
    public static TowerTrainer Build(ModelConfig config, EmbeddingPlan plan, TowerPlan towers, TowerModuleConfig module, int threads, bool parallel)
    {
        if (config.Model.Kind != DenseModelKind.Dlrm) throw new ConfigException("model.kind", "model.kind: the tower model is a DLRM; this config's model is not dlrm.");
        var towerOf = towers.TowerOfTable(plan);
        var built = plan.Build();
        var list = new List<Tower>();
        try
        {
            int dim = config.EmbeddingDim;
            for (int t = 0; t < towers.Towers.Count; t++)
            {
                var tables = new EmbeddingCollection(Enumerable.Range(0, built.Count).Where(i => towerOf[i] == t).Select(i => built[i]).ToArray());
                tables.Threads = parallel ? 1 : threads;
                int outputs = module.OutputFloats(tables.Width, dim);
                var towerModule = TowerModules.Create(module, towers.Towers[t].Name, tables.Width, tables.FeatureNames.Count, dim);
                list.Add(new Tower(towers.Towers[t].Name, tables, towerModule, outputs, module.Kind == TowerModuleKind.Identity, config.DenseOptimizer));
            }
            ITowerExecutor executor = parallel ? new ThreadedTowerExecutor(list) : new InlineTowerExecutor(list);
            var coordinator = new DlrmModel(config.DenseFeatures.Count, CoordinatorFeatures(executor, list, module, dim), dim, config.Model);
            return new TowerTrainer(executor, coordinator, config.DenseFeatures.Count, config.DenseOptimizer);
        }
        catch
        {
            foreach (var t in list) t.Dispose();
            foreach (var t in built) t.Dispose();
            throw;
        }
    }

    /// <summary>The d-wide vectors the global interaction sees, as (name, column, width) in the tower outputs.</summary>
    private static IReadOnlyList<(string Name, int Column, int Width)> CoordinatorFeatures(ITowerExecutor executor, IReadOnlyList<Tower> towers, TowerModuleConfig module, int dim)
    {
        var features = new List<(string, int, int)>();
        for (int t = 0; t < towers.Count; t++)
        {
            int column = executor.Towers[t].OutputColumn;
            if (module.Kind == TowerModuleKind.Identity)
                features.AddRange(towers[t].Tables.FeatureColumns.Select(f => (f.Name, column + f.Column, f.Width)));
            else
                for (int v = 0; v < module.OutputVectors; v++) features.Add(($"{towers[t].Name}/v{v}", column + v * dim, dim));
        }
        return features;
    }

    public float TrainStep(KeyedJaggedBatch sparse, ReadOnlySpan<float> dense, ReadOnlySpan<float> labels, Span<float> predictions)
    {
        int batch = sparse.BatchSize;
        CheckShapes(batch, dense, labels, predictions);
        using var scope = torch.NewDisposeScope();
        var towerOutputs = torch.empty([batch, Executor.OutputFloats], dtype: ScalarType.Float32);
        Executor.Forward(sparse, MemoryMarshal.Cast<byte, float>(towerOutputs.bytes), training: true);
        towerOutputs.requires_grad_(true);
        var labelTensor = torch.empty([batch], dtype: ScalarType.Float32);
        labels[..batch].CopyTo(MemoryMarshal.Cast<byte, float>(labelTensor.bytes));

        _optimizer.zero_grad();
        var logits = Coordinator.Forward(DenseTensor(dense, batch), towerOutputs);
        var loss = nn.functional.binary_cross_entropy_with_logits(logits, labelTensor);
        loss.backward();
        using (torch.no_grad())
        {
            MemoryMarshal.Cast<byte, float>(torch.sigmoid(logits).bytes).CopyTo(predictions);
        }
        Executor.Backward(MemoryMarshal.Cast<byte, float>(towerOutputs.grad!.bytes));
        _optimizer.step();
        Steps++;
        return loss.item<float>();
    }

    public void Predict(KeyedJaggedBatch sparse, ReadOnlySpan<float> dense, Span<float> predictions)
    {
        int batch = sparse.BatchSize;
        if (predictions.Length < batch) throw new ArgumentException($"predictions has length {predictions.Length}, {batch} needed.", nameof(predictions));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var towerOutputs = torch.empty([batch, Executor.OutputFloats], dtype: ScalarType.Float32);
        Executor.Forward(sparse, MemoryMarshal.Cast<byte, float>(towerOutputs.bytes), training: false);
        var logits = Coordinator.Forward(DenseTensor(dense, batch), towerOutputs);
        MemoryMarshal.Cast<byte, float>(torch.sigmoid(logits).bytes).CopyTo(predictions);
    }

    private Tensor DenseTensor(ReadOnlySpan<float> dense, int batch)
    {
        var t = torch.empty([batch, Math.Max(DenseCount, 1)], dtype: ScalarType.Float32);
        var span = MemoryMarshal.Cast<byte, float>(t.bytes);
        if (DenseCount == 0) span.Clear();
        else dense[..(batch * DenseCount)].CopyTo(span);
        return t;
    }

    private void CheckShapes(int batch, ReadOnlySpan<float> dense, ReadOnlySpan<float> labels, Span<float> predictions)
    {
        if (dense.Length < (long)batch * DenseCount)
            throw new ArgumentException($"dense has length {dense.Length}, {batch} x {DenseCount} needed.", nameof(dense));
        if (labels.Length < batch) throw new ArgumentException($"labels has length {labels.Length}, {batch} needed.", nameof(labels));
        if (predictions.Length < batch) throw new ArgumentException($"predictions has length {predictions.Length}, {batch} needed.", nameof(predictions));
        for (int i = 0; i < batch; i++)
            if (labels[i] is not (0f or 1f)) throw new ArgumentException($"labels[{i}] = {labels[i]} is not 0 or 1.", nameof(labels));
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        Coordinator.Dispose();
        Executor.Dispose();
    }
}
