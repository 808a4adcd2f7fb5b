namespace RecsysEmbed.Training.Models;

public enum ModelKind { Dlrm, DcnV2 }

/// <summary>Shape of the dense part of a CTR model. Immutable; validated by <see cref="Validate"/>.</summary>
public sealed record ModelSettings
{
    public ModelKind Kind { get; init; } = ModelKind.Dlrm;
    /// <summary>DLRM bottom MLP hidden sizes; the last layer outputs the interaction dim (the embedding dim).</summary>
    public IReadOnlyList<int> BottomMlp { get; init; } = [512, 256];
    /// <summary>Hidden sizes of DLRM's top MLP (a final 1-unit layer is added).</summary>
    public IReadOnlyList<int> TopMlp { get; init; } = [512, 256];
    /// <summary>DCN-v2: number of full-rank cross layers.</summary>
    public int CrossLayers { get; init; } = 3;
    /// <summary>DCN-v2: hidden sizes of the deep network stacked after the cross layers.</summary>
    public IReadOnlyList<int> DeepMlp { get; init; } = [512, 256];

    public void Validate()
    {
        foreach (var (name, sizes) in new[] { ("bottom_mlp", BottomMlp), ("top_mlp", TopMlp), ("deep_mlp", DeepMlp) })
        {
            for (int i = 0; i < sizes.Count; i++)
            {
                if (sizes[i] <= 0) throw new ArgumentOutOfRangeException(name, sizes[i], $"model.{name}[{i}]: {sizes[i]} must be > 0.");
            }
        }
        if (CrossLayers < 0) throw new ArgumentOutOfRangeException(nameof(CrossLayers), CrossLayers, $"model.cross_layers: {CrossLayers} must be >= 0.");
    }
}
