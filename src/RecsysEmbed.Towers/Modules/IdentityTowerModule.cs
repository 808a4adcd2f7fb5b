using static TorchSharp.torch;

namespace RecsysEmbed.Towers.Modules;

/// <summary>B x n d -> the same tensor: the tower sends its pooled embeddings as they are (the flat model's traffic).</summary>
public sealed class IdentityTowerModule(string name) : nn.Module<Tensor, Tensor>(name)
{
    public override Tensor forward(Tensor input) => input;
}
