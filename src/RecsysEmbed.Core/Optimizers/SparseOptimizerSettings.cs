namespace RecsysEmbed.Core.Optimizers;

public enum SparseOptimizerKind
{
    /// <summary>w -= lr * g. No state.</summary>
    Sgd,
    /// <summary>Per element: G += g^2; w -= lr * g / (sqrt(G) + eps). State: one float per weight.</summary>
    Adagrad,
    /// <summary>Per row (as FBGEMM): G_r += mean(g^2); w -= lr * g / (sqrt(G_r) + eps). State: one float per row.</summary>
    RowWiseAdagrad,
    /// <summary>
    /// Lazy Adam: moments of touched rows only, bias-corrected with the matrix's global step t:
    /// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
    /// State: two floats per weight.
    /// </summary>
    Adam,
}

/// <summary>Hyper-parameters of the fused sparse optimizer of a table. Immutable.</summary>
public sealed record SparseOptimizerSettings
{
    public SparseOptimizerKind Kind { get; init; } = SparseOptimizerKind.RowWiseAdagrad;
    public float LearningRate { get; init; } = 0.01f;
    public float Epsilon { get; init; } = 1e-8f;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    /// <summary>Starting value of Adagrad accumulators (TensorFlow uses 0.1; PyTorch 0).</summary>
    public float InitialAccumulator { get; init; }

    public static SparseOptimizerSettings Sgd(float lr) => new() { Kind = SparseOptimizerKind.Sgd, LearningRate = lr };
    public static SparseOptimizerSettings Adagrad(float lr, float eps = 1e-8f) => new() { Kind = SparseOptimizerKind.Adagrad, LearningRate = lr, Epsilon = eps };
    public static SparseOptimizerSettings RowWiseAdagrad(float lr, float eps = 1e-8f) => new() { Kind = SparseOptimizerKind.RowWiseAdagrad, LearningRate = lr, Epsilon = eps };
    public static SparseOptimizerSettings Adam(float lr, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f) =>
        new() { Kind = SparseOptimizerKind.Adam, LearningRate = lr, Beta1 = beta1, Beta2 = beta2, Epsilon = eps };

    /// <summary>Floats of optimizer state per row for a row of <paramref name="dim"/> weights.</summary>
    public int StateWidth(int dim) => Kind switch
    {
        SparseOptimizerKind.Sgd => 0,
        SparseOptimizerKind.Adagrad => dim,
        SparseOptimizerKind.RowWiseAdagrad => 1,
        SparseOptimizerKind.Adam => 2 * dim,
        _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "unknown optimizer kind"),
    };

    public void Validate()
    {
        if (!(LearningRate > 0) || !float.IsFinite(LearningRate))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "learning rate must be a finite number > 0.");
        if (!(Epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "epsilon must be > 0.");
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "beta1 must be in [0, 1).");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "beta2 must be in [0, 1).");
        if (!(InitialAccumulator >= 0)) throw new ArgumentOutOfRangeException(nameof(InitialAccumulator), InitialAccumulator, "initial accumulator must be >= 0.");
    }
}
