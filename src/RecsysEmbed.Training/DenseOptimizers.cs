using RecsysEmbed.Core.Config;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecsysEmbed.Training;

/// <summary>Builds the TorchSharp optimizer of the dense parameters from the config.</summary>
public static class DenseOptimizers
{
    public static optim.Optimizer Create(IEnumerable<Parameter> parameters, DenseOptimizerConfig config) => config.Kind switch
    {
        DenseOptimizerKind.Adam => optim.Adam(parameters, config.LearningRate, config.Beta1, config.Beta2, config.Epsilon, config.WeightDecay),
        DenseOptimizerKind.Adagrad => optim.Adagrad(parameters, config.LearningRate, eps: config.Epsilon, weight_decay: config.WeightDecay),
        DenseOptimizerKind.Sgd => optim.SGD(parameters, config.LearningRate, weight_decay: config.WeightDecay),
        _ => throw new ArgumentOutOfRangeException(nameof(config), config.Kind, "unknown dense optimizer kind"),
    };
}
