using RecsysEmbed.Core.Config;
using System.Runtime.InteropServices;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Training;

/// <summary>
/// One CTR model trained one mini-batch at a time: the engine's tables (sparse, fused optimizers) and a TorchSharp
/// dense model (autograd, Adam or Adagrad).
/// <code>
///   tables.Forward(kjt) ──writes──> emb tensor storage (B x W, no copy)
///   logits = model(dense, emb) ; loss = BCE(logits, labels) ; loss.backward()
///   tables.Backward(kjt, emb.grad storage) ; dense optimizer step
/// </code>
/// Deterministic for a seed on one thread (torch and engine threads = 1).
/// </summary>
public sealed class CtrTrainer : ICtrTrainer
{
    private readonly torch.optim.Optimizer _denseOptimizer;

    public CtrTrainer(EmbeddingCollection tables, ICtrModel model, int denseCount, DenseOptimizerConfig denseOptimizer)
    {
        Tables = tables;
        Model = model;
        DenseCount = denseCount;
        _denseOptimizer = DenseOptimizers.Create(model.Module.parameters(), denseOptimizer);
    }

    public EmbeddingCollection Tables { get; }
    public ICtrModel Model { get; }
    public int DenseCount { get; }
    public torch.optim.Optimizer DenseOptimizer => _denseOptimizer;
    public long Steps { get; private set; }
    public long DenseParameterCount => Model.DenseParameterCount;
    public IEnumerable<IEmbeddingTable> CheckpointTables => Tables.Tables;
    public IEnumerable<(string Name, torch.nn.Module Module, torch.optim.Optimizer Optimizer)> DenseParts => [("dense", Model.Module, _denseOptimizer)];

    /// <summary>Sets the step counter after a restore from a checkpoint.</summary>
    public void RestoreSteps(long steps) => Steps = steps;

    /// <summary>
    /// Trains on one batch. Writes the pre-update predicted probabilities into <paramref name="predictions"/> (so
    /// callers get progressive-validation scores for free) and returns the mean log loss of the batch.
    /// </summary>
    public float TrainStep(KeyedJaggedBatch sparse, ReadOnlySpan<float> dense, ReadOnlySpan<float> labels, Span<float> predictions)
    {
        int batch = sparse.BatchSize;
        CheckShapes(batch, dense, labels, predictions);
        using var scope = torch.NewDisposeScope();
        var emb = torch.empty([batch, Tables.Width], dtype: ScalarType.Float32);
        Tables.Forward(sparse, MemoryMarshal.Cast<byte, float>(emb.bytes));
        emb.requires_grad_(true);
        var denseTensor = DenseTensor(dense, batch);
        var labelTensor = torch.empty([batch], dtype: ScalarType.Float32);
        labels[..batch].CopyTo(MemoryMarshal.Cast<byte, float>(labelTensor.bytes));

        _denseOptimizer.zero_grad();
        var logits = Model.Forward(denseTensor, emb);
        var loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labelTensor);
        loss.backward();
        using (torch.no_grad())
        {
            MemoryMarshal.Cast<byte, float>(torch.sigmoid(logits).bytes).CopyTo(predictions);
        }
        Tables.Backward(sparse, MemoryMarshal.Cast<byte, float>(emb.grad!.bytes));
        _denseOptimizer.step();
        Steps++;
        return loss.item<float>();
    }

    /// <summary>Scores a batch without training.</summary>
    public void Predict(KeyedJaggedBatch sparse, ReadOnlySpan<float> dense, Span<float> predictions)
    {
        int batch = sparse.BatchSize;
        if (predictions.Length < batch) throw new ArgumentException($"predictions has length {predictions.Length}, {batch} needed.", nameof(predictions));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var emb = torch.empty([batch, Tables.Width], dtype: ScalarType.Float32);
        Tables.Forward(sparse, MemoryMarshal.Cast<byte, float>(emb.bytes));
        var logits = Model.Forward(DenseTensor(dense, batch), emb);
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
        {
            if (labels[i] is not (0f or 1f)) throw new ArgumentException($"labels[{i}] = {labels[i]} is not 0 or 1.", nameof(labels));
        }
    }

    public void Dispose()
    {
        _denseOptimizer.Dispose();
        Model.Dispose();
        Tables.Dispose();
    }
}
