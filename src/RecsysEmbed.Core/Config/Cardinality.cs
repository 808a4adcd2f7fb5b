namespace RecsysEmbed.Core.Config;

/// <summary>
/// How many distinct ids a sparse feature has: a fixed count (ids are 0..Rows-1), <c>dynamic</c> (an open
/// vocabulary that grows while training), or unknown (the key was left out). Only hash and ue tables take the
/// last two, since they never size a row per id.
/// </summary>
public readonly record struct Cardinality
{
    private Cardinality(long? rows, bool isDynamic)
    {
        Rows = rows;
        IsDynamic = isDynamic;
    }

    /// <summary>The fixed id count, or null when dynamic or unknown.</summary>
    public long? Rows { get; }
    public bool IsDynamic { get; }
    public bool IsFixed => Rows.HasValue;

    public static Cardinality Fixed(long rows) =>
        rows >= 1 ? new(rows, false) : throw new ArgumentOutOfRangeException(nameof(rows), rows, "a cardinality must be >= 1.");
    public static Cardinality Dynamic { get; } = new(null, true);
    public static Cardinality Unknown { get; } = default;

    public override string ToString() => Rows?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? (IsDynamic ? "dynamic" : "unknown");
}
