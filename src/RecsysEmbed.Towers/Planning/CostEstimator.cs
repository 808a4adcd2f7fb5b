using RecsysEmbed.Core.Config.Planning;

namespace RecsysEmbed.Towers.Planning;

/// <summary>
/// Per-table costs from an <see cref="EmbeddingPlan"/> (sizes, widths, optimizer state) and the mean bag length
/// (ids per sample) of each feature. Configs carry no bag length, so it is given: 1.0 for one-hot features such
/// as Criteo's; a dataset with missing values has less (the synthetic Criteo log averages about 0.89).
/// </summary>
public static class CostEstimator
{
    public static IReadOnlyList<TableCost> Estimate(EmbeddingPlan plan, Func<string, double>? poolingOf = null)
    {
        poolingOf ??= _ => 1.0;
        var costs = new List<TableCost>(plan.Tables.Count);
        foreach (var t in plan.Tables)
        {
            double ids = 0, lookup = 0;
            foreach (var f in t.Features)
            {
                double pooling = poolingOf(f.Name);
                if (!(pooling >= 0) || double.IsInfinity(pooling))
                    throw new ArgumentOutOfRangeException(nameof(poolingOf), pooling, $"pooling of feature '{f.Name}': {pooling} must be a finite number >= 0.");
                ids += pooling;
                lookup += pooling * f.OutputDim;
            }
            costs.Add(new TableCost(t.Name, t.Features.Select(f => f.Name).ToArray(), ids, lookup, t.OutputWidth, t.Memory.WeightBytes, t.Memory.OptimizerBytes)
            {
                Dim = t.OutputWidth,
            });
        }
        return costs;
    }
}
