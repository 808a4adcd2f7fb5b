namespace RecsysEmbed.Towers.Planning;

/// <summary>
/// The units the partitioner places: one node per table (a unified table's features stay together), with the
/// feature-by-feature interaction strengths summed into node-by-node weights.
/// </summary>
public static class FeatureEnumerator
{
    /// <summary>
    /// Node weights from feature weights: W[a, b] = sum of strength[f, g] over f in table a, g in table b (a != b);
    /// pairs inside one table are always kept and left out.
    /// </summary>
    /// <param name="featureNames">Names indexing <paramref name="strength"/>'s rows and columns.</param>
    public static double[,] NodeWeights(IReadOnlyList<TableCost> tables, IReadOnlyList<string> featureNames, double[,] strength)
    {
        var nodeOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int t = 0; t < tables.Count; t++)
            foreach (var f in tables[t].Features) nodeOf[f] = t;
        var weights = new double[tables.Count, tables.Count];
        for (int i = 0; i < featureNames.Count; i++)
        {
            for (int j = 0; j < featureNames.Count; j++)
            {
                if (i == j) continue;
                int a = nodeOf.TryGetValue(featureNames[i], out int x) ? x : throw new ArgumentException($"feature '{featureNames[i]}' is served by no table.", nameof(featureNames));
                int b = nodeOf.TryGetValue(featureNames[j], out int y) ? y : throw new ArgumentException($"feature '{featureNames[j]}' is served by no table.", nameof(featureNames));
                if (a != b) weights[a, b] += strength[i, j];
            }
        }
        return weights;
    }
}
