namespace RecsysEmbed.Core.Config;

public enum DenseModelKind { Dlrm, DcnV2 }

/// <summary>
/// Arithmetic of the dense MLPs. Bf16: matmuls in bfloat16 (oneDNN uses AVX512-BF16/AMX where the CPU has them),
/// with fp32 master weights, fp32 optimizer state and fp32 interaction and loss.
/// </summary>
public enum DensePrecision { Fp32, Bf16 }

/// <summary>The dense part of the CTR model (the `model:` section); parsed here, built by the trainer.</summary>
public sealed record DenseModelConfig
{
    public DenseModelKind Kind { get; init; } = DenseModelKind.Dlrm;
    /// <summary>DLRM bottom MLP hidden sizes; a last layer to embedding_dim is added.</summary>
    public IReadOnlyList<int> BottomMlp { get; init; } = [512, 256];
    /// <summary>DLRM top MLP hidden sizes; a last 1-unit layer is added.</summary>
    public IReadOnlyList<int> TopMlp { get; init; } = [512, 256];
    /// <summary>DCN-v2 full-rank cross layers.</summary>
    public int CrossLayers { get; init; } = 3;
    /// <summary>DCN-v2 deep MLP hidden sizes (after the cross layers).</summary>
    public IReadOnlyList<int> DeepMlp { get; init; } = [512, 256];
    /// <summary>Arithmetic of the MLP layers (weights stay fp32 either way).</summary>
    public DensePrecision Precision { get; init; } = DensePrecision.Fp32;
}

/// <summary>Defaults of a training run (the `training:` section); command-line options override them.</summary>
public sealed record TrainingConfig
{
    public int BatchSize { get; init; } = 2048;
    public int Epochs { get; init; } = 1;
    public ulong Seed { get; init; } = 1;
}
