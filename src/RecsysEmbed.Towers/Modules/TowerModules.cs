using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Towers.Modules;

/// <summary>Builds the tower module of a tower: input B x InputFloats (its features' pooled vectors side by side), output B x OutputFloats.</summary>
public static class TowerModules
{
    /// <param name="vectors">Features in the tower (each <paramref name="dim"/> wide for the dot-MLP kind).</param>
    public static nn.Module<Tensor, Tensor> Create(TowerModuleConfig config, string name, int inputFloats, int vectors, int dim) => config.Kind switch
    {
        TowerModuleKind.Identity => new IdentityTowerModule(name),
        TowerModuleKind.Projection => new ProjectionTowerModule(name, inputFloats, config.OutputVectors * dim),
        TowerModuleKind.DotMlp => new DotMlpTowerModule(name, vectors, dim, inputFloats, config.Hidden, config.OutputVectors * dim),
        _ => throw new ArgumentOutOfRangeException(nameof(config), config.Kind, "unknown tower module kind"),
    };
}
