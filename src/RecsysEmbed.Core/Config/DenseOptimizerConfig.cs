namespace RecsysEmbed.Core.Config;

public enum DenseOptimizerKind { Adam, Adagrad, Sgd }

/// <summary>Optimizer of the dense (MLP) parameters; parsed and validated here, used by the trainer.</summary>
public sealed record DenseOptimizerConfig
{
    public DenseOptimizerKind Kind { get; init; } = DenseOptimizerKind.Adam;
    public double LearningRate { get; init; } = 0.001;
    public double Epsilon { get; init; } = 1e-8;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    /// <summary>L2 penalty added to the gradient (0: none).</summary>
    public double WeightDecay { get; init; }
}
