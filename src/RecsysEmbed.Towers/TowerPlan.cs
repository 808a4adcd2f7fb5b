using System.Text.Json;
using System.Text.Json.Serialization;
using RecsysEmbed.Core.Config.Planning;

namespace RecsysEmbed.Towers;

/// <summary>What a tower module does to its tower's pooled embeddings before they leave the tower.</summary>
public enum TowerModuleKind
{
    /// <summary>Passes the pooled embeddings through: the tower model then computes exactly the flat DLRM.</summary>
    Identity,
    /// <summary>One linear map of the tower's concatenated embeddings (n_t x d floats) to OutputVectors x d.</summary>
    Projection,
    /// <summary>Local pairwise dot products of the tower's vectors, concatenated with them, through a small MLP to OutputVectors x d.</summary>
    DotMlp,
}

/// <summary>
/// The tower module of every tower: its kind, how many d-wide vectors it emits (<see cref="OutputVectors"/>), and
/// the hidden width of the dot-MLP kind.
/// </summary>
public sealed record TowerModuleConfig(TowerModuleKind Kind = TowerModuleKind.Projection, int OutputVectors = 2, int Hidden = 64)
{
    /// <summary>Floats per sample the module emits, given the floats it takes in and the embedding dim d.</summary>
    public int OutputFloats(int inputFloats, int dim) => Kind == TowerModuleKind.Identity ? inputFloats : OutputVectors * dim;

    public static TowerModuleKind ParseKind(string text) => text switch
    {
        "identity" => TowerModuleKind.Identity,
        "projection" => TowerModuleKind.Projection,
        "dot-mlp" => TowerModuleKind.DotMlp,
        _ => throw new ArgumentException($"--tower-module: '{text}' is not identity, projection or dot-mlp."),
    };

    public static string Name(TowerModuleKind kind) => kind switch
    {
        TowerModuleKind.Identity => "identity",
        TowerModuleKind.DotMlp => "dot-mlp",
        _ => "projection",
    };
}

/// <summary>One tower: the tables it owns (each whole) and the features they serve, in the tower's output order.</summary>
public sealed record TowerSpec(string Name, IReadOnlyList<string> Tables, IReadOnlyList<string> Features);

/// <summary>
/// Features split into towers. Tables are the unit (a unified table's features stay together), listed in the
/// embedding plan's order inside each tower. Written and read as JSON so `towers partition --json` can feed
/// `towers train --partition FILE`.
/// <code>
///   { "towers": [ { "name": "tower0", "tables": ["C1", "C7"], "features": ["C1", "C7"] }, ... ] }
/// </code>
/// </summary>
public sealed record TowerPlan(IReadOnlyList<TowerSpec> Towers)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    /// <summary>Towers from a tower index per table (aligned with <paramref name="plan"/>'s tables); empty towers are dropped.</summary>
    public static TowerPlan FromAssignment(EmbeddingPlan plan, IReadOnlyList<int> towerOfTable)
    {
        if (towerOfTable.Count != plan.Tables.Count)
            throw new ArgumentException($"{towerOfTable.Count} tower indices for {plan.Tables.Count} tables.", nameof(towerOfTable));
        var towers = new List<TowerSpec>();
        foreach (var group in Enumerable.Range(0, plan.Tables.Count).GroupBy(i => towerOfTable[i]).OrderBy(g => g.Key))
        {
            var tables = group.Select(i => plan.Tables[i]).ToArray();
            towers.Add(new TowerSpec($"tower{group.Key}", tables.Select(t => t.Name).ToArray(), tables.SelectMany(t => t.Features.Select(f => f.Name)).ToArray()));
        }
        return new TowerPlan(towers);
    }

    /// <summary>Tower index of each of <paramref name="plan"/>'s tables; every table must be in exactly one tower.</summary>
    public int[] TowerOfTable(EmbeddingPlan plan)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int t = 0; t < Towers.Count; t++)
            foreach (var name in Towers[t].Tables)
                if (!index.TryAdd(name, t)) throw new ArgumentException($"towers: table '{name}' is in {Towers[index[name]].Name} and {Towers[t].Name}.");
        var result = new int[plan.Tables.Count];
        for (int i = 0; i < plan.Tables.Count; i++)
            result[i] = index.TryGetValue(plan.Tables[i].Name, out int t) ? t : throw new ArgumentException($"towers: table '{plan.Tables[i].Name}' is in no tower.");
        if (index.Count != plan.Tables.Count)
            throw new ArgumentException($"towers: {string.Join(", ", index.Keys.Except(plan.Tables.Select(t => t.Name)))} not tables of config '{plan.Config.Name}'.");
        return result;
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TowerPlan FromJson(string json) =>
        JsonSerializer.Deserialize<TowerPlan>(json, Json) ?? throw new ArgumentException("towers: the JSON holds no tower plan.");
}
