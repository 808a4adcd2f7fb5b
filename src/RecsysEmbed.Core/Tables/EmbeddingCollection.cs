using RecsysEmbed.Core.Batching;

namespace RecsysEmbed.Core.Tables;

/// <summary>
/// All the tables of a model, side by side: one forward fills a B x Width buffer where table t owns columns
/// [Column_t, Column_t + OutputWidth_t), and one backward hands each table its slice of the gradient.
/// <code>
///   output row b  [ table 0: C1 | C2 ][ table 1 (ue): C3 C3 | C4 ][ table 2: C5 ] ...
/// </code>
/// The buffer may be any memory, e.g. the storage of a torch tensor, so pooled embeddings reach the dense model
/// without a copy.
/// </summary>
public sealed class EmbeddingCollection : IDisposable
{
    private readonly IEmbeddingTable[] _tables;
    private readonly int[] _columns;
    private readonly (int Table, int Feature, int Column, int Width)[] _featureSlots;

    public EmbeddingCollection(IReadOnlyList<IEmbeddingTable> tables)
    {
        _tables = tables.ToArray();
        _columns = new int[_tables.Length];
        var slots = new List<(int, int, int, int)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int column = 0;
        for (int t = 0; t < _tables.Length; t++)
        {
            _columns[t] = column;
            for (int f = 0; f < _tables[t].Features.Count; f++)
            {
                var slot = _tables[t].Features[f];
                if (!seen.Add(slot.Name)) ThrowHelper.Argument(nameof(tables), $"feature '{slot.Name}' is served by two tables.");
                slots.Add((t, f, column + slot.Column, slot.OutputDim));
            }
            column += _tables[t].OutputWidth;
        }
        _featureSlots = slots.ToArray();
        Width = column;
        FeatureNames = _featureSlots.Select(s => _tables[s.Item1].Features[s.Item2].Name).ToArray();
    }

    public IReadOnlyList<IEmbeddingTable> Tables => _tables;
    /// <summary>Floats per sample in the collection's output.</summary>
    public int Width { get; }
    /// <summary>Features in output order.</summary>
    public IReadOnlyList<string> FeatureNames { get; }
    /// <summary>Column and width of each feature in output order (same order as FeatureNames).</summary>
    public IEnumerable<(string Name, int Column, int Width)> FeatureColumns =>
        _featureSlots.Select(s => (_tables[s.Table].Features[s.Feature].Name, s.Column, s.Width));

    public TableMemory Memory
    {
        get
        {
            var total = default(TableMemory);
            foreach (var t in _tables) total += t.Memory;
            return total;
        }
    }

    public int Threads
    {
        set { foreach (var t in _tables) t.Threads = value; }
    }

    public void Forward(KeyedJaggedBatch batch, Span<float> output)
    {
        for (int t = 0; t < _tables.Length; t++) _tables[t].Forward(batch, output, Width, _columns[t]);
    }

    public void Backward(KeyedJaggedBatch batch, ReadOnlySpan<float> gradOutput)
    {
        for (int t = 0; t < _tables.Length; t++) _tables[t].Backward(batch, gradOutput, Width, _columns[t]);
    }

    public void Dispose()
    {
        foreach (var t in _tables) t.Dispose();
    }
}
