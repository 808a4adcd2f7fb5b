using RecsysEmbed.Core.Config;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace RecsysEmbed.Training.Models;

/// <summary>
/// DLRM (Naumov et al., 2019): bottom MLP on dense features to the embedding dim d, pairwise dot products between
/// it and every sparse feature's vector, then a top MLP on [bottom output, dot products].
/// <code>
///   dense B x D -> bottom MLP -> x: B x d
///   embeddings B x W -> per feature B x d (features of another width are projected to d)
///   T = [x, e_1 .. e_F]: B x (F+1) x d ; Z = T T^T ; keep the (F+1)F/2 entries below the diagonal
///   top MLP([x, Z]) -> logit
/// </code>
/// </summary>
public sealed class DlrmModel : Module<Tensor, Tensor, Tensor>, ICtrModel
{
    private readonly TorchSharp.Modules.Sequential _bottom;
    private readonly TorchSharp.Modules.Sequential _top;
    private readonly TorchSharp.Modules.ModuleList<Module<Tensor, Tensor>> _projections;
    private readonly (int Column, int Width, int Projection)[] _features;
    private readonly bool _uniform;
    private readonly Tensor _pairRows, _pairCols;
    private readonly int _dim;
    private readonly DensePrecision _precision;

    public DlrmModel(int denseCount, IReadOnlyList<(string Name, int Column, int Width)> features, int embeddingDim, DenseModelConfig settings)
        : base("dlrm")
    {
        _dim = embeddingDim;
        _precision = settings.Precision;
        var bottomSizes = settings.BottomMlp.Concat([embeddingDim]).ToArray();
        _bottom = DenseLayers.Mlp("bottom", Math.Max(denseCount, 1), bottomSizes, finalRelu: true);
        _projections = new TorchSharp.Modules.ModuleList<Module<Tensor, Tensor>>();
        _features = new (int, int, int)[features.Count];
        _uniform = true;
        int expectedColumn = 0;
        for (int f = 0; f < features.Count; f++)
        {
            var (name, column, width) = features[f];
            int projection = -1;
            if (width != embeddingDim)
            {
                projection = _projections.Count;
                _projections.Add(Linear(width, embeddingDim, hasBias: false));
                _uniform = false;
            }
            if (column != expectedColumn) _uniform = false;
            expectedColumn = column + width;
            _features[f] = (column, width, projection);
        }
        int vectors = features.Count + 1;
        int pairs = vectors * (vectors - 1) / 2;
        var rows = new long[pairs];
        var cols = new long[pairs];
        int p = 0;
        for (int i = 1; i < vectors; i++)
            for (int j = 0; j < i; j++) { rows[p] = i; cols[p] = j; p++; }
        _pairRows = torch.tensor(rows);
        _pairCols = torch.tensor(cols);
        _top = DenseLayers.Mlp("top", embeddingDim + pairs, settings.TopMlp.Concat([1]).ToArray(), finalRelu: false);
        RegisterComponents();
    }

    public Module Module => this;
    public long DenseParameterCount => parameters().Sum(p => p.numel());

    public Tensor Forward(Tensor dense, Tensor embeddings) => forward(dense, embeddings);

    public override Tensor forward(Tensor dense, Tensor embeddings)
    {
        long batch = embeddings.shape[0];
        using var x = DenseLayers.Forward(_bottom, dense, _precision);
        Tensor stacked;
        if (_uniform)
        {
            // All features are d wide and back to back: a view, no copy.
            using var e = embeddings.view(batch, _features.Length, _dim);
            stacked = torch.cat([x.unsqueeze(1), e], 1);
        }
        else
        {
            var parts = new List<Tensor> { x.unsqueeze(1) };
            foreach (var (column, width, projection) in _features)
            {
                var slice = embeddings.narrow(1, column, width);
                var v = projection < 0 ? slice : _projections[projection].call(slice);
                parts.Add(v.unsqueeze(1));
            }
            stacked = torch.cat(parts, 1);
        }
        using var z = torch.bmm(stacked, stacked.transpose(1, 2));
        using var pairs = z.index(TensorIndex.Colon, TensorIndex.Tensor(_pairRows), TensorIndex.Tensor(_pairCols));
        stacked.Dispose();
        using var topInput = torch.cat([x, pairs], 1);
        using var logits = DenseLayers.Forward(_top, topInput, _precision);
        return logits.squeeze(1);
    }
}
