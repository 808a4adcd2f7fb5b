using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace RecsysEmbed.Towers.Modules;

/// <summary>
/// Local interaction, then compression: the tower's n vectors (B x n x d) give n(n-1)/2 pairwise dot products;
/// [vectors flattened, dots] (B x (n d + n(n-1)/2)) -> Linear -> ReLU -> Linear -> B x (c d). Pairs inside the tower
/// are thus seen exactly, before anything crosses to the global interaction.
/// </summary>
public sealed class DotMlpTowerModule : Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.Sequential _mlp;
    private readonly Tensor _rows, _cols;
    private readonly int _vectors, _dim;

    public DotMlpTowerModule(string name, int vectors, int dim, int inputFloats, int hidden, int outputFloats) : base(name)
    {
        if (inputFloats != vectors * dim)
            throw new ArgumentException($"the dot-mlp tower module needs {vectors} features {dim} wide ({vectors * dim} floats), got {inputFloats}.", nameof(inputFloats));
        _vectors = vectors;
        _dim = dim;
        var rows = new List<long>();
        var cols = new List<long>();
        for (int i = 1; i < vectors; i++) for (int j = 0; j < i; j++) { rows.Add(i); cols.Add(j); }
        _rows = torch.tensor(rows.ToArray());
        _cols = torch.tensor(cols.ToArray());
        _mlp = Sequential(("linear0", Linear(inputFloats + rows.Count, hidden)), ("relu0", ReLU()), ("linear1", Linear(hidden, outputFloats)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        long batch = input.shape[0];
        if (_vectors < 2) return _mlp.call(input);
        using var v = input.view(batch, _vectors, _dim);
        using var z = torch.bmm(v, v.transpose(1, 2));
        using var dots = z.index(TensorIndex.Colon, TensorIndex.Tensor(_rows), TensorIndex.Tensor(_cols));
        using var features = torch.cat([input, dots], 1);
        return _mlp.call(features);
    }
}
