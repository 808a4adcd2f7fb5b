using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace RecsysEmbed.Training.Models;

internal static class DenseLayers
{
    /// <summary>Linear layers of the given sizes with ReLU between them (and after the last when <paramref name="finalRelu"/>).</summary>
    public static TorchSharp.Modules.Sequential Mlp(string name, int input, IReadOnlyList<int> sizes, bool finalRelu)
    {
        var layers = new List<(string, Module<Tensor, Tensor>)>();
        int width = input;
        for (int i = 0; i < sizes.Count; i++)
        {
            layers.Add(($"{name}_linear{i}", Linear(width, sizes[i])));
            if (i < sizes.Count - 1 || finalRelu) layers.Add(($"{name}_relu{i}", ReLU()));
            width = sizes[i];
        }
        return Sequential(layers);
    }
}
