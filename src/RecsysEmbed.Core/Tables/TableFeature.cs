namespace RecsysEmbed.Core.Tables;

/// <summary>A feature a table serves, and how its bags are pooled.</summary>
public sealed record TableFeature(string Name, PoolingMode Pooling = PoolingMode.Sum);

/// <summary>
/// Initialisation of a table's matrices: uniform(-bound, bound). A null bound means sqrt(1 / rows) of each
/// matrix (TorchRec's default), which keeps pooled sums of different tables on a similar scale.
/// </summary>
public sealed record TableInit(float? UniformBound = null, ulong Seed = 1)
{
    public static TableInit Default { get; } = new();

    internal void Apply(EmbeddingMatrix m, int index)
    {
        float bound = UniformBound ?? (float)Math.Sqrt(1.0 / m.Rows);
        m.InitUniform(bound, Hashing.BucketHash.DeriveSeed(Seed, index));
    }
}
