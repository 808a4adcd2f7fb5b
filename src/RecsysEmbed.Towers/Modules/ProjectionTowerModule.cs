using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace RecsysEmbed.Towers.Modules;

/// <summary>B x (n d) -> B x (c d): one linear map compresses the tower's n vectors to c vectors.</summary>
public sealed class ProjectionTowerModule : Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.Linear _projection;

    public ProjectionTowerModule(string name, int inputFloats, int outputFloats) : base(name)
    {
        _projection = Linear(inputFloats, outputFloats);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => _projection.call(input);
}
