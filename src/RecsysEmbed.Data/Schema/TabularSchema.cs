namespace RecsysEmbed.Data.Schema;

/// <summary>
/// A column of a user table, by header name or by 0-based index, and the feature name it gets.
/// <code>
///   ColumnRef.ByName("price")               feature "price"
///   ColumnRef.ByIndex(3, "user_id")         feature "user_id" (default "col3")
///   "price" / 3                             implicit conversions to the two forms above
/// </code>
/// </summary>
public readonly record struct ColumnRef
{
    private ColumnRef(string? column, int index, string featureName)
    {
        Column = column;
        Index = index;
        FeatureName = featureName;
    }

    /// <summary>Header (or Parquet) column name; null when the column is given by index.</summary>
    public string? Column { get; }

    /// <summary>0-based column index; -1 when the column is given by name.</summary>
    public int Index { get; }

    public string FeatureName { get; }

    public static ColumnRef ByName(string column, string? featureName = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(column);
        return new ColumnRef(column, -1, featureName ?? column);
    }

    public static ColumnRef ByIndex(int index, string? featureName = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return new ColumnRef(null, index, featureName ?? $"col{index}");
    }

    public static implicit operator ColumnRef(string column) => ByName(column);
    public static implicit operator ColumnRef(int index) => ByIndex(index);

    public override string ToString() => Column ?? $"#{Index}";
}

/// <summary>
/// Which columns of a user's CSV/TSV (or Parquet) table are the label, dense and sparse features.
/// <code>
///   new TabularSchema { Delimiter = '\t', HasHeader = true, Label = "clicked",
///                       Dense = ["price", "age"], Sparse = ["user_id", "item_id", "tags"],
///                       MultiValueSeparator = '|' }                 // "a|b|c" in a sparse cell = bag of 3
/// </code>
/// Sparse values are hashed from their text (UTF-8), so the same table read as CSV or Parquet yields the same
/// ids. Dense cells are numbers (empty = missing) and go through the reader's dense transform (for user data
/// usually <see cref="Transforms.DenseTransform.None"/> or log1p). Columns not named are ignored.
/// </summary>
public sealed record TabularSchema
{
    /// <summary>Field delimiter (text only).</summary>
    public char Delimiter { get; init; } = ',';

    /// <summary>Whether the first line names the columns (text only; Parquet always has names).</summary>
    public bool HasHeader { get; init; } = true;

    /// <summary>RFC 4180 double-quoted fields ("a,b" and "" escapes; a quoted field may not span lines).</summary>
    public bool Quoted { get; init; } = true;

    public required ColumnRef Label { get; init; }
    public IReadOnlyList<ColumnRef> Dense { get; init; } = [];
    public IReadOnlyList<ColumnRef> Sparse { get; init; } = [];

    /// <summary>
    /// Null (default): the label must be 0 or 1. Set: label = value >= threshold (e.g. 4 for 1..5 ratings).
    /// </summary>
    public double? PositiveThreshold { get; init; }

    /// <summary>Splits sparse cells into several values (a bag); null keeps one value per cell.</summary>
    public char? MultiValueSeparator { get; init; }

    /// <summary>The dataset schema this table produces.</summary>
    public DatasetSchema ToDatasetSchema() =>
        new(Label.FeatureName, Dense.Select(c => c.FeatureName).ToArray(), Sparse.Select(c => c.FeatureName).ToArray());

    internal void Validate()
    {
        if (Delimiter is '"' or '\n' or '\r') throw new ArgumentException($"Delimiter must not be a quote or line break, got '{Delimiter}'.", nameof(Delimiter));
        if (Delimiter > 127) throw new ArgumentException($"Delimiter must be an ASCII character, got '{Delimiter}'.", nameof(Delimiter));
        if (MultiValueSeparator is { } m && (m == Delimiter || m > 127))
            throw new ArgumentException($"MultiValueSeparator must be ASCII and differ from the delimiter, got '{m}'.", nameof(MultiValueSeparator));
        if (Label.FeatureName is null) throw new ArgumentException("Label column is not set.", nameof(Label));
        if (Dense.Concat(Sparse).Any(c => c.FeatureName is null)) throw new ArgumentException("a dense or sparse column is default(ColumnRef); use ColumnRef.ByName or ByIndex.");
        if (PositiveThreshold is { } t && !double.IsFinite(t)) throw new ArgumentException($"PositiveThreshold must be finite, got {t}.", nameof(PositiveThreshold));
        _ = ToDatasetSchema(); // duplicate feature names throw here
    }
}
