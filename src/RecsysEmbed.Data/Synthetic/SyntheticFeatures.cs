namespace RecsysEmbed.Data.Synthetic;

/// <summary>Raw-file layout the generator writes.</summary>
public enum SyntheticSchemaKind
{
    /// <summary>Criteo TSV: label, I1..I13, C1..C26 (read back with <see cref="Readers.CriteoReader"/>).</summary>
    Criteo,

    /// <summary>Avazu CSV with header: id, click, hour, C1 .. C21 (read back with <see cref="Readers.AvazuReader"/>).</summary>
    Avazu,
}

/// <summary>How a categorical value is written.</summary>
public enum RawValueFormat
{
    /// <summary>8 lower-case hex digits of a keyed 32-bit permutation of the value index (Criteo C*, Avazu ids).</summary>
    Hex8,

    /// <summary>Decimal of a keyed permutation of [0, cardinality) (Avazu C1, banner_pos, C14..C21).</summary>
    Decimal,

    /// <summary>Not written as a column: derived from another column (Avazu hour_of_day, day_of_week from hour).</summary>
    Derived,
}

/// <summary>A categorical feature: values drawn Zipf(exponent) over cardinality ranks; some rows miss it.</summary>
public sealed record SyntheticCategorical(string Name, long Cardinality, double ZipfExponent, double MissingRate, RawValueFormat Format);

/// <summary>
/// A dense count feature: x = floor(exp(mu + sigma g)) - 1 with g ~ N(0,1), mu = ln(median + 1); with
/// probability NegativeRate x is -1..-3 instead (Criteo I2); missing with probability MissingRate.
/// </summary>
public sealed record SyntheticDense(string Name, double MissingRate, double Median, double LogSigma, double NegativeRate = 0);

/// <summary>Default feature layouts with Criteo-like and Avazu-like cardinalities.</summary>
public static class SyntheticSchemas
{
    /// <summary>Kaggle Criteo (DAC) categorical cardinalities, as used by DLRM.</summary>
    public static IReadOnlyList<long> CriteoCardinalities { get; } =
    [
        1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194,
        27, 14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572,
    ];

    private static readonly double[] CriteoMissing =
    [
        0, 0, 0.034, 0.034, 0, 0.12, 0, 0, 0, 0, 0, 0.034, 0,
        0, 0, 0.034, 0, 0, 0.44, 0.44, 0.034, 0.76, 0, 0.034, 0.44, 0.44,
    ];

    private static readonly SyntheticDense[] CriteoDenseFeatures =
    [
        new("I1", 0.45, 1, 1.2), new("I2", 0, 2, 2.0, NegativeRate: 0.05), new("I3", 0.21, 6, 1.5), new("I4", 0.22, 4, 1.0),
        new("I5", 0.03, 2800, 2.0), new("I6", 0.22, 30, 1.8), new("I7", 0.04, 3, 1.6), new("I8", 0.0005, 8, 1.1),
        new("I9", 0.04, 37, 1.3), new("I10", 0.45, 1, 0.5), new("I11", 0.04, 1, 1.0), new("I12", 0.77, 0, 1.2),
        new("I13", 0.22, 4, 1.1),
    ];

    private static readonly (string Name, long Cardinality, RawValueFormat Format)[] AvazuColumns =
    [
        ("C1", 7, RawValueFormat.Decimal), ("banner_pos", 7, RawValueFormat.Decimal),
        ("site_id", 4737, RawValueFormat.Hex8), ("site_domain", 7745, RawValueFormat.Hex8), ("site_category", 26, RawValueFormat.Hex8),
        ("app_id", 8552, RawValueFormat.Hex8), ("app_domain", 559, RawValueFormat.Hex8), ("app_category", 36, RawValueFormat.Hex8),
        ("device_id", 2686408, RawValueFormat.Hex8), ("device_ip", 6729486, RawValueFormat.Hex8), ("device_model", 8251, RawValueFormat.Hex8),
        ("device_type", 5, RawValueFormat.Decimal), ("device_conn_type", 4, RawValueFormat.Decimal),
        ("C14", 2626, RawValueFormat.Decimal), ("C15", 8, RawValueFormat.Decimal), ("C16", 9, RawValueFormat.Decimal),
        ("C17", 435, RawValueFormat.Decimal), ("C18", 4, RawValueFormat.Decimal), ("C19", 68, RawValueFormat.Decimal),
        ("C20", 172, RawValueFormat.Decimal), ("C21", 60, RawValueFormat.Decimal),
    ];

    /// <summary>Zipf exponent of feature f: spread over [1.05, 1.40] by a golden-ratio sequence.</summary>
    public static double DefaultExponent(int f) => 1.05 + 0.35 * Frac(0.1 + f * 0.6180339887498949);

    public static IReadOnlyList<SyntheticCategorical> Categorical(SyntheticSchemaKind kind, long maxCardinality)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCardinality, 1);
        if (kind == SyntheticSchemaKind.Criteo)
        {
            return CriteoCardinalities
                .Select((n, f) => new SyntheticCategorical($"C{f + 1}", Math.Min(n, maxCardinality), DefaultExponent(f), CriteoMissing[f], RawValueFormat.Hex8))
                .ToArray();
        }
        var columns = AvazuColumns
            .Select((c, f) => new SyntheticCategorical(c.Name, Math.Min(c.Cardinality, maxCardinality), DefaultExponent(f), 0, c.Format))
            .ToList();
        columns.Add(new SyntheticCategorical(Readers.AvazuReader.HourOfDay, 24, 0, 0, RawValueFormat.Derived));
        columns.Add(new SyntheticCategorical(Readers.AvazuReader.DayOfWeek, 7, 0, 0, RawValueFormat.Derived));
        return columns;
    }

    public static IReadOnlyList<SyntheticDense> Dense(SyntheticSchemaKind kind) =>
        kind == SyntheticSchemaKind.Criteo ? CriteoDenseFeatures : [];

    private static double Frac(double x) => x - Math.Floor(x);
}
