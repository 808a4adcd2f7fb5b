namespace RecsysEmbed.Core.Tables.Addressing;

/// <summary>Feature slots, matrix shapes and argument checks shared by the per-family addressings.</summary>
public abstract class RowAddressingBase : IRowAddressing
{
    private readonly FeatureSlot[] _features;
    private readonly Dictionary<string, int> _index;

    protected RowAddressingBase(string tableName, string family, IReadOnlyList<FeatureSlot> features, IReadOnlyList<MatrixShape> matrices)
    {
        ArgumentException.ThrowIfNullOrEmpty(tableName);
        TableName = tableName;
        Family = family;
        _features = features.ToArray();
        Matrices = matrices.ToArray();
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int f = 0; f < _features.Length; f++) _index[_features[f].Name] = f;
    }

    public string TableName { get; }
    public string Family { get; }
    public IReadOnlyList<FeatureSlot> Features => _features;
    public IReadOnlyList<MatrixShape> Matrices { get; }

    public int FeatureIndex(string name) => _index.TryGetValue(name, out int f) ? f : -1;

    public abstract int MaxRowsPerId(int feature);
    public abstract int Resolve(int feature, long id, Span<PhysicalRow> rows);
    public abstract void Combine(int feature, ReadOnlySpan<PhysicalRow> rows, ReadOnlySpan<float> values, Span<float> output);

    protected FeatureSlot Slot(int feature)
    {
        if ((uint)feature >= (uint)_features.Length)
            ThrowHelper.OutOfRange(nameof(feature), feature, $"table '{TableName}' serves {_features.Length} feature(s).");
        return _features[feature];
    }

    protected static void CheckRoom(string name, int needed, int actual)
    {
        if (actual < needed) ThrowHelper.TooShort(name, needed, actual);
    }

    protected static void CheckNonNegative(long id)
    {
        if (id < 0) ThrowHelper.OutOfRange(nameof(id), id, "ids must be >= 0.");
    }
}
