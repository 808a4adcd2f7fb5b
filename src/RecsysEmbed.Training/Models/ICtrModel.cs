using static TorchSharp.torch;

namespace RecsysEmbed.Training.Models;

/// <summary>
/// The dense part of a CTR model: (dense features B x D, pooled embeddings B x W) -> logits B.
/// The embeddings come from the engine's <see cref="Core.Tables.EmbeddingCollection"/>; their gradient goes back to it.
/// </summary>
public interface ICtrModel : IDisposable
{
    Tensor Forward(Tensor dense, Tensor embeddings);
    TorchSharp.torch.nn.Module Module { get; }
    long DenseParameterCount { get; }
}
