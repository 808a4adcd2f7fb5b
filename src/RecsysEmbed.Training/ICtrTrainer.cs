using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Tables;
using TorchSharp;

namespace RecsysEmbed.Training;

/// <summary>
/// What the training loop, the checkpoints and the metrics need from a trainer, one batch at a time. The flat
/// <see cref="CtrTrainer"/> is one implementation; a tower trainer (tables and dense parts split across towers)
/// is another, so both run through <see cref="TrainingRun"/> and <see cref="TrainingCheckpoint"/> unchanged.
/// </summary>
public interface ICtrTrainer : IDisposable
{
    long Steps { get; }
    /// <summary>Sets the step counter after a restore from a checkpoint.</summary>
    void RestoreSteps(long steps);
    long DenseParameterCount { get; }
    /// <summary>Every embedding table, each once (checkpoint entries are named by table).</summary>
    IEnumerable<IEmbeddingTable> CheckpointTables { get; }
    /// <summary>Dense modules with their optimizers; checkpoint entries are <c>{Name}/model</c> and <c>{Name}/optimizer</c>.</summary>
    IEnumerable<(string Name, torch.nn.Module Module, torch.optim.Optimizer Optimizer)> DenseParts { get; }

    /// <summary>Trains on one batch; writes the pre-update probabilities into predictions and returns the batch's mean log loss.</summary>
    float TrainStep(KeyedJaggedBatch sparse, ReadOnlySpan<float> dense, ReadOnlySpan<float> labels, Span<float> predictions);
    /// <summary>Scores a batch without training.</summary>
    void Predict(KeyedJaggedBatch sparse, ReadOnlySpan<float> dense, Span<float> predictions);
}
