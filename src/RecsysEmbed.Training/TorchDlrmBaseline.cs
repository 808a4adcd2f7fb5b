using RecsysEmbed.Core.Config;
using RecsysEmbed.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Training;

/// <summary>
/// The same DLRM written all in TorchSharp, as the throughput baseline: one nn.EmbeddingBag(sum, sparse gradients)
/// per feature, trained with SGD, and the same dense model and dense optimizer as <see cref="CtrTrainer"/>.
/// Inputs are per-feature (ids, offsets) tensors built from the same batches.
/// </summary>
public sealed class TorchDlrmBaseline : IDisposable
{
    private readonly TorchSharp.Modules.EmbeddingBag[] _bags;
    private readonly DlrmModel _model;
    private readonly torch.optim.Optimizer _sparseOptimizer;
    private readonly torch.optim.Optimizer _denseOptimizer;

    public TorchDlrmBaseline(int denseCount, IReadOnlyList<long> cardinalities, int dim, DenseModelConfig settings, double sparseLearningRate,
                             DenseOptimizerConfig dense)
    {
        _bags = cardinalities.Select(n => nn.EmbeddingBag(n, dim, mode: EmbeddingBagMode.Sum, sparse: true)).ToArray();
        foreach (var bag in _bags)
        {
            using var noGrad = torch.no_grad();
            double bound = Math.Sqrt(1.0 / bag.weight!.shape[0]);
            bag.weight!.uniform_(-bound, bound);
        }
        var features = cardinalities.Select((_, f) => ($"f{f}", f * dim, dim)).ToArray();
        _model = new DlrmModel(denseCount, features, dim, settings);
        _sparseOptimizer = torch.optim.SGD(_bags.SelectMany(b => b.parameters()), sparseLearningRate);
        _denseOptimizer = DenseOptimizers.Create(_model.parameters(), dense);
        DenseCount = denseCount;
    }

    public int DenseCount { get; }

    /// <summary>One step; ids[f]/offsets[f] are int64 tensors (offsets: B entries). Returns the loss.</summary>
    public float TrainStep(IReadOnlyList<Tensor> ids, IReadOnlyList<Tensor> offsets, Tensor dense, Tensor labels, Span<float> predictions)
    {
        using var scope = torch.NewDisposeScope();
        _sparseOptimizer.zero_grad();
        _denseOptimizer.zero_grad();
        var pooled = new Tensor[_bags.Length];
        for (int f = 0; f < _bags.Length; f++) pooled[f] = _bags[f].call(ids[f], offsets[f]);
        var emb = torch.cat(pooled, 1);
        var logits = _model.forward(dense, emb);
        var loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels);
        loss.backward();
        using (torch.no_grad())
        {
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(torch.sigmoid(logits).bytes).CopyTo(predictions);
        }
        _sparseOptimizer.step();
        _denseOptimizer.step();
        return loss.item<float>();
    }

    public void Predict(IReadOnlyList<Tensor> ids, IReadOnlyList<Tensor> offsets, Tensor dense, Span<float> predictions)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pooled = new Tensor[_bags.Length];
        for (int f = 0; f < _bags.Length; f++) pooled[f] = _bags[f].call(ids[f], offsets[f]);
        var logits = _model.forward(dense, torch.cat(pooled, 1));
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(torch.sigmoid(logits).bytes).CopyTo(predictions);
    }

    public void Dispose()
    {
        _sparseOptimizer.Dispose();
        _denseOptimizer.Dispose();
        _model.Dispose();
        foreach (var b in _bags) b.Dispose();
    }
}
