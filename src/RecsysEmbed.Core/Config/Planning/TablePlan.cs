using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config.Planning;

/// <summary>One matrix a table will allocate: Rows x Dim weights, plus Rows x StateWidth(Dim) optimizer floats.</summary>
public sealed record MatrixPlan(string Name, long Rows, int Dim)
{
    public long WeightParameters => Rows * Dim;
}

/// <summary>
/// A table sized but not allocated: its features (with output widths and columns, as the built table's
/// <see cref="IEmbeddingTable.Features"/>), its matrices, and their memory. <see cref="Memory"/> equals the
/// built table's <see cref="IEmbeddingTable.Memory"/>; <see cref="Build"/> allocates it.
/// </summary>
public abstract class TablePlan
{
    protected TablePlan(TableConfig config, IReadOnlyList<(string Name, PoolingMode Pooling, int OutputDim)> features,
                        IReadOnlyList<MatrixPlan> matrices, SparseOptimizerSettings optimizer, ulong seed, TableMemory? memoryOverride = null)
    {
        Config = config;
        var slots = new FeatureSlot[features.Count];
        int column = 0;
        for (int f = 0; f < features.Count; f++)
        {
            slots[f] = new FeatureSlot(features[f].Name, features[f].Pooling, features[f].OutputDim, column);
            column += features[f].OutputDim;
        }
        Features = slots;
        OutputWidth = column;
        Matrices = matrices;
        Optimizer = optimizer;
        Seed = seed;
        var memory = default(TableMemory);
        foreach (var m in matrices)
        {
            long state = m.Rows * optimizer.StateWidth(m.Dim);
            memory += new TableMemory(m.WeightParameters, m.WeightParameters * sizeof(float), state, state * sizeof(float));
        }
        // Families that do not store fp32 matrices (low precision) state their memory themselves.
        Memory = memoryOverride ?? memory;
    }

    public TableConfig Config { get; }
    public string Name => Config.Name;
    public string Family => Config.Family;
    /// <summary>Where the table came from in the YAML: tables[i] or default_table.</summary>
    public string Source => Config.Source;
    public IReadOnlyList<FeatureSlot> Features { get; }
    public int OutputWidth { get; }
    public IReadOnlyList<MatrixPlan> Matrices { get; }
    public SparseOptimizerSettings Optimizer { get; }
    /// <summary>Seed of the table's hashes and initial weights, derived from hash_seed and the table name.</summary>
    public ulong Seed { get; }
    public TableMemory Memory { get; }

    /// <summary>Allocates the table (Memory.TotalBytes of native memory); the caller disposes it.</summary>
    public abstract IEmbeddingTable Build();

    protected TableInit Init => new(Seed: Seed);

    protected IReadOnlyList<TableFeature> TableFeatures => Features.Select(f => new TableFeature(f.Name, f.Pooling)).ToArray();
}
