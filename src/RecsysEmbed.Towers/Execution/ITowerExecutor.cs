using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Tables;
using TorchSharp;

namespace RecsysEmbed.Towers.Execution;

/// <summary>A tower as the coordinator sees it: a name, its features, and its columns in the tower outputs.</summary>
public sealed record TowerInfo(string Name, IReadOnlyList<string> Features, int InputFloats, int OutputColumn, int OutputFloats);

/// <summary>
/// Runs the towers of a DMT model. The coordinator sees only tower outputs and sends only their gradients:
/// <code>
///   Forward(batch, outputs)   outputs: B x OutputFloats, row-major; tower t writes columns [OutputColumn_t, + OutputFloats_t)
///   Backward(gradOutputs)     gradOutputs: same shape, d loss / d outputs of the last training Forward;
///                             each tower backpropagates through its module into its tables and steps its own optimizers
/// </code>
/// Where the towers run (threads here; other processes or hosts later) is the executor's business: the model code
/// only uses this interface. Every byte crossing a tower boundary is counted in <see cref="Traffic"/>.
/// </summary>
public interface ITowerExecutor : IDisposable
{
    IReadOnlyList<TowerInfo> Towers { get; }
    int OutputFloats { get; }
    TowerTraffic Traffic { get; }

    /// <summary>Looks up and runs every tower on the batch. With <paramref name="training"/> the towers keep what Backward needs.</summary>
    void Forward(KeyedJaggedBatch batch, Span<float> outputs, bool training);
    /// <summary>Backpropagates the gradient of the last training Forward's outputs and updates every tower's tables and module.</summary>
    void Backward(ReadOnlySpan<float> gradOutputs);

    /// <summary>Every table of every tower (for checkpoints; a remote executor would checkpoint where the tables live).</summary>
    IEnumerable<IEmbeddingTable> CheckpointTables { get; }
    /// <summary>Tower modules that have parameters, with their optimizers.</summary>
    IEnumerable<(string Name, torch.nn.Module Module, torch.optim.Optimizer Optimizer)> DenseParts { get; }
}
