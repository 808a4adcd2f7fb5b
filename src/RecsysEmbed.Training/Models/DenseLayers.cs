using RecsysEmbed.Core.Config;
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

    /// <summary>
    /// Runs an MLP built by <see cref="Mlp"/> in the given precision. Bf16 casts the input and each layer's fp32
    /// weights to bfloat16 (autograd carries the gradients back to the fp32 weights through the casts) and returns
    /// fp32, so parameter names, checkpoints and optimizers are the same in both precisions.
    /// </summary>
    public static Tensor Forward(TorchSharp.Modules.Sequential mlp, Tensor input, DensePrecision precision)
    {
        if (precision == DensePrecision.Fp32) return mlp.call(input);
        Tensor x = input.to(ScalarType.BFloat16);
        foreach (var layer in mlp.children())
        {
            Tensor next;
            if (layer is TorchSharp.Modules.Linear linear)
            {
                using var weight = linear.weight!.to(ScalarType.BFloat16);
                using var bias = linear.bias?.to(ScalarType.BFloat16);
                next = functional.linear(x, weight, bias);
            }
            else next = ((Module<Tensor, Tensor>)layer).call(x);
            x.Dispose();
            x = next;
        }
        using (x) return x.to(ScalarType.Float32);
    }
}
