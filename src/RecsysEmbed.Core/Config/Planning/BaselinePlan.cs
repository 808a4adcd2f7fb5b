using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config.Planning;

/// <summary>
/// The uncompressed reference: every sparse feature as its own full table of embedding_dim, with the model's
/// optimizer. A dynamic or unknown feature counts with its cardinality_estimate when it has one
/// (<see cref="EstimatedFeatures"/>) and is left out otherwise (<see cref="SkippedFeatures"/>).
/// </summary>
public sealed record BaselinePlan(long Rows, int Dim, TableMemory Memory, IReadOnlyList<string> EstimatedFeatures, IReadOnlyList<string> SkippedFeatures)
{
    public static BaselinePlan Of(ModelConfig config)
    {
        long rows = 0;
        var estimated = new List<string>();
        var skipped = new List<string>();
        foreach (var f in config.SparseFeatures)
        {
            if (f.BaselineRows is not { } r)
            {
                skipped.Add(f.Name);
                continue;
            }
            if (!f.Cardinality.IsFixed) estimated.Add(f.Name);
            rows += r;
        }
        int dim = config.EmbeddingDim;
        long weights = rows * dim, state = rows * config.Optimizer.StateWidth(dim);
        return new BaselinePlan(rows, dim, new TableMemory(weights, weights * sizeof(float), state, state * sizeof(float)), estimated, skipped);
    }
}
