namespace RecsysEmbed.Core.Config;

public enum DenseModelKind { Dlrm, DcnV2 }

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
}

/// <summary>Defaults of a training run (the `training:` section); command-line options override them.</summary>
public sealed record TrainingConfig
{
    public int BatchSize { get; init; } = 2048;
    public int Epochs { get; init; } = 1;
    public ulong Seed { get; init; } = 1;
}
