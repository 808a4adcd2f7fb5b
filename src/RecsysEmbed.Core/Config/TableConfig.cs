using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config;

/// <summary>
/// One embedding table as configured: its family, the features it serves, and the family's own parameters.
/// <see cref="Source"/> is where it came from in the YAML (<c>tables[2]</c>, or <c>default_table</c> for tables
/// made for unlisted features), so later errors can point at it. Sizes derived from the memory budget and the
/// mixed-dimension rule are not here; <see cref="Planning.EmbeddingPlan"/> computes them.
/// </summary>
public abstract record TableConfig(string Name, string Source, IReadOnlyList<string> Features, int Dim)
{
    /// <summary>Family name as written in configs: full, hash, qr, md, ue, lp, tt, robe.</summary>
    public abstract string Family { get; }

    /// <summary>The families a config may name.</summary>
    public static IReadOnlyList<string> Families { get; } = ["full", "hash", "qr", "md", "ue", "lp", "tt", "robe"];

    /// <summary>Full, QR, MD, low-precision and TT tables size rows per id, so their features need a fixed cardinality.</summary>
    public bool NeedsFixedCardinality => IndexesIds(Family);

    /// <summary>Whether a family indexes rows by id (ids below the cardinality) rather than hashing them.</summary>
    public static bool IndexesIds(string family) => family is "full" or "qr" or "md" or "lp" or "tt";
}

/// <summary>One row per id; features sharing the table share the id space (rows = largest cardinality).</summary>
public sealed record FullTableConfig(string Name, string Source, IReadOnlyList<string> Features, int Dim)
    : TableConfig(Name, Source, Features, Dim)
{
    public override string Family => "full";
}

/// <summary>
/// How a hashed or unified table gets its bucket count: given outright, from its own byte budget, or from a share
/// of what the model's memory_budget leaves after the fixed-size tables (shares are relative weights).
/// </summary>
public readonly record struct BucketSizing(long? Buckets, long? BudgetBytes, double BudgetShare = 1.0)
{
    public bool FromModelBudget => Buckets is null && BudgetBytes is null;
}

/// <summary>Hashing trick / multi-hash: k hashes into one Buckets x Dim matrix, rows summed or concatenated.</summary>
public sealed record HashTableConfig(string Name, string Source, IReadOnlyList<string> Features, int Dim,
                                     BucketSizing Sizing, int HashCount = 1, HashCombine Combine = HashCombine.Sum)
    : TableConfig(Name, Source, Features, Dim)
{
    public override string Family => "hash";
}

/// <summary>
/// Compositional (quotient-remainder) table. Exactly one of the three sizings is set: collisions c
/// (radices [ceil(n/c), c]: remainder table first), k balanced partitions, or explicit radices.
/// </summary>
public sealed record QrTableConfig(string Name, string Source, IReadOnlyList<string> Features, int Dim,
                                   long? Collisions, int? Partitions, IReadOnlyList<long>? Radices, QrCombine Combine = QrCombine.Multiply)
    : TableConfig(Name, Source, Features, Dim)
{
    public override string Family => "qr";
}

/// <summary>How a mixed-dimension table picks its stored widths.</summary>
public enum MixedDimensionMode
{
    /// <summary>Width from <see cref="MixedDimensionRule"/> over all md tables with the same alpha and min_dim.</summary>
    PowerLaw,
    /// <summary>Width given outright.</summary>
    Fixed,
    /// <summary>
    /// Within-feature: the HotRows most frequent ids get HotDim, the rest TailDim; with TailBuckets the rest share
    /// that many TailDim rows by hash instead of one row each.
    /// </summary>
    HotTail,
}

/// <summary>
/// Mixed-dimension table of one feature; <see cref="TableConfig.Dim"/> is the output width (the model's
/// embedding_dim) every stored width is projected up to.
/// </summary>
public sealed record MdTableConfig(string Name, string Source, IReadOnlyList<string> Features, int Dim, MixedDimensionMode Mode,
                                   double Alpha = 0, int MinDim = 4, int StoredDim = 0, long HotRows = 0, int HotDim = 0, int TailDim = 0,
                                   long? TailBuckets = null)
    : TableConfig(Name, Source, Features, Dim)
{
    public override string Family => "md";
}

/// <summary>Unified embedding: features multiplexed into one shared matrix; feature i probes it Chunks[i] times.</summary>
public sealed record UnifiedTableConfig(string Name, string Source, IReadOnlyList<string> Features, int Dim,
                                        IReadOnlyList<int> Chunks, BucketSizing Sizing)
    : TableConfig(Name, Source, Features, Dim)
{
    public override string Family => "ue";
}

/// <summary>
/// Low-precision rows during training: fp16 or int8 storage with stochastic rounding. Rows = the largest
/// cardinality, or <see cref="Buckets"/> hashed rows when given (low precision on top of the hashing trick).
/// </summary>
public sealed record LpTableConfig(string Name, string Source, IReadOnlyList<string> Features, int Dim, RowPrecision Precision, long? Buckets = null)
    : TableConfig(Name, Source, Features, Dim)
{
    public override string Family => "lp";
}

/// <summary>TT-Rec: the table as a tensor train of three cores with ranks <see cref="Rank"/>.</summary>
public sealed record TtTableConfig(string Name, string Source, IReadOnlyList<string> Features, int Dim, int Rank)
    : TableConfig(Name, Source, Features, Dim)
{
    public override string Family => "tt";
}

/// <summary>
/// ROBE-Z: features share one array of weights read in blocks of <see cref="BlockSize"/> at hashed offsets. The array
/// size (in weights) comes from <see cref="Sizing"/>: <c>size</c> given outright, or a byte budget (4 bytes a weight).
/// </summary>
public sealed record RobeTableConfig(string Name, string Source, IReadOnlyList<string> Features, int Dim, BucketSizing Sizing, int BlockSize)
    : TableConfig(Name, Source, Features, Dim)
{
    public override string Family => "robe";
}
