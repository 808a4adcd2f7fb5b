namespace RecsysEmbed.Tests.TestData;

/// <summary>The Criteo schema's feature lists for small test configs (13 dense I1..I13, 26 sparse C1..C26).</summary>
internal static class CriteoTestSchema
{
    public const string DenseFeatures = "dense_features: [I1, I2, I3, I4, I5, I6, I7, I8, I9, I10, I11, I12, I13]";

    /// <summary>
    /// "sparse_features:" and one "  - {name: Cf}" line per feature, with extra keys for the named ones, e.g.
    /// ("C1", "cardinality: 2000"). Meant to be interpolated at the start of a line of a raw YAML literal.
    /// </summary>
    public static string SparseFeatures(params (string Name, string Keys)[] extra)
    {
        var keys = extra.ToDictionary(e => e.Name, e => e.Keys);
        var lines = Enumerable.Range(1, 26).Select(f => $"C{f}")
            .Select(name => keys.TryGetValue(name, out var k) ? $"  - {{name: {name}, {k}}}" : $"  - {{name: {name}}}");
        return "sparse_features:\n" + string.Join("\n", lines);
    }
}
