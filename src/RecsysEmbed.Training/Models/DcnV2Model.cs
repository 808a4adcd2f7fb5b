using RecsysEmbed.Core.Config;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace RecsysEmbed.Training.Models;

/// <summary>
/// DCN-v2 (Wang et al., 2021), stacked form: x0 = [dense, embeddings]; full-rank cross layers
/// x_{l+1} = x0 * (W_l x_l + b_l) + x_l; then a deep MLP; then a linear layer to the logit. Features of any width
/// are simply concatenated, so mixed-dimension and multi-size outputs need no projection.
/// </summary>
public sealed class DcnV2Model : Module<Tensor, Tensor, Tensor>, ICtrModel
{
    private readonly TorchSharp.Modules.ModuleList<TorchSharp.Modules.Linear> _cross;
    private readonly TorchSharp.Modules.Sequential _deep;
    private readonly TorchSharp.Modules.Linear _head;
    private readonly DensePrecision _precision;

    public DcnV2Model(int denseCount, int embeddingWidth, DenseModelConfig settings) : base("dcnv2")
    {
        int width = Math.Max(denseCount, 1) + embeddingWidth; // a model without dense features gets one zero column
        _cross = new TorchSharp.Modules.ModuleList<TorchSharp.Modules.Linear>();
        for (int l = 0; l < settings.CrossLayers; l++) _cross.Add(Linear(width, width));
        _deep = DenseLayers.Mlp("deep", width, settings.DeepMlp, finalRelu: true);
        _head = Linear(settings.DeepMlp.Count > 0 ? settings.DeepMlp[^1] : width, 1);
        _precision = settings.Precision;
        RegisterComponents();
    }

    public Module Module => this;
    public long DenseParameterCount => parameters().Sum(p => p.numel());

    public Tensor Forward(Tensor dense, Tensor embeddings) => forward(dense, embeddings);

    public override Tensor forward(Tensor dense, Tensor embeddings)
    {
        using var scope = torch.NewDisposeScope();
        var x0 = torch.cat([dense, embeddings], 1);
        var x = x0;
        foreach (var layer in _cross) x = x0 * layer.call(x) + x;
        var logits = _head.call(DenseLayers.Forward(_deep, x, _precision)).squeeze(1);
        return logits.MoveToOuterDisposeScope();
    }
}
