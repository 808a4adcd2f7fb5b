using System.IO.Hashing;
using System.Text;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config.Planning;

/// <summary>
/// Turns table configs into sized plans. Order matters: tables with a fixed size (full, qr, md, and hash/ue with
/// buckets or their own budget) are sized first; what memory_budget leaves goes to the hash/ue tables without
/// one, split by budget_share. The budget covers embedding weights only (projections included, optimizer state not).
/// </summary>
internal static class EmbeddingPlanner
{
    public static EmbeddingPlan Plan(ModelConfig config)
    {
        var mdWidths = MixedDimensionWidths(config);
        var plans = new TablePlan?[config.Tables.Count];
        for (int i = 0; i < plans.Length; i++) plans[i] = FixedSize(config, config.Tables[i], mdWidths);

        var shared = Enumerable.Range(0, plans.Length).Where(i => plans[i] is null).ToList();
        long budget = config.MemoryBudgetBytes ?? long.MaxValue;
        long fixedBytes = plans.Sum(p => p?.Memory.WeightBytes ?? 0);
        if (shared.Count > 0)
        {
            // The validator only lets a table size itself from the model budget when there is one.
            long left = budget - fixedBytes;
            if (left <= 0)
                throw TooSmall(config, $"the fixed-size tables already take {Show(fixedBytes)} of weights ({Largest(plans)}), leaving nothing for {Describe(config.Tables[shared[0]])}");
            double shares = shared.Sum(i => Sizing(config.Tables[i]).BudgetShare);
            long given = 0;
            foreach (int i in shared)
            {
                var table = config.Tables[i];
                long bytes = Math.Min((long)Math.Floor(left * (Sizing(table).BudgetShare / shares)), left - given);
                long rowBytes = (long)BucketDim(table) * sizeof(float);
                if (bytes < rowBytes)
                    throw TooSmall(config, $"after the fixed-size tables ({Show(fixedBytes)}) it leaves {Show(bytes)} for {Describe(table)}, less than one bucket of {rowBytes} bytes");
                plans[i] = Budgeted(config, table, UnifiedTable.BucketsForBudget(bytes, BucketDim(table), config.Optimizer), bytes);
                given += plans[i]!.Memory.WeightBytes;
            }
        }
        var all = plans.Select(p => p!).ToArray();
        long total = all.Sum(p => p.Memory.WeightBytes);
        if (total > budget)
            throw TooSmall(config, $"the tables take {Show(total)} of weights ({Largest(all)})");
        return new EmbeddingPlan(config, all);
    }

    private static TablePlan? FixedSize(ModelConfig config, TableConfig table, IReadOnlyDictionary<TableConfig, int> mdWidths)
    {
        var pooling = table.Features.Select(f => config.Feature(f).Pooling).ToArray();
        long Cardinality() => table.Features.Max(f => config.Feature(f).Cardinality.Rows!.Value);
        ulong seed = SeedOf(config, table);
        switch (table)
        {
            case FullTableConfig full:
                return new FullTablePlan(full, pooling, Cardinality(), config.Optimizer, seed);
            case QrTableConfig qr:
                long n = Cardinality();
                IReadOnlyList<long> radices = qr.Radices
                    ?? (qr.Partitions is { } k ? QuotientRemainderTable.BalancedRadices(n, k) : QuotientRemainderTable.QuotientRemainderRadices(n, qr.Collisions!.Value));
                return new QrTablePlan(qr, pooling, n, radices, config.Optimizer, seed);
            case MdTableConfig md:
                long rows = Cardinality();
                MixedDimensionBlock[] blocks = md.Mode switch
                {
                    MixedDimensionMode.HotTail when md.TailBuckets is { } tailBuckets => [new(md.HotRows, md.HotDim), new(tailBuckets, md.TailDim, Hashed: true)],
                    MixedDimensionMode.HotTail => [new(md.HotRows, md.HotDim), new(rows - md.HotRows, md.TailDim)],
                    MixedDimensionMode.Fixed => [new(rows, md.StoredDim)],
                    _ => [new(rows, mdWidths[md])],
                };
                return new MdTablePlan(md, pooling[0], rows, blocks, config.Optimizer, seed);
            case LpTableConfig lp:
                return new LpTablePlan(lp, pooling, lp.Buckets ?? Cardinality(), config.Optimizer, seed);
            case TtTableConfig tt:
                return new TtTablePlan(tt, pooling, Cardinality(), config.Optimizer, seed);
        }
        var sizing = Sizing(table);
        if (sizing.Buckets is { } buckets) return Budgeted(config, table, buckets, null);
        if (sizing.BudgetBytes is not { } own) return null;
        long rowBytes = (long)BucketDim(table) * sizeof(float);
        if (own < rowBytes)
            throw ConfigException.Invalid(table.Source + ".budget", new ByteCount(own),
                $"{Describe(table)} needs at least {rowBytes} bytes for one bucket of dim {BucketDim(table)}");
        return Budgeted(config, table, UnifiedTable.BucketsForBudget(own, BucketDim(table), config.Optimizer), own);
    }

    private static TablePlan Budgeted(ModelConfig config, TableConfig table, long buckets, long? budgetBytes)
    {
        var pooling = table.Features.Select(f => config.Feature(f).Pooling).ToArray();
        return table switch
        {
            HashTableConfig hash => new HashTablePlan(hash, pooling, buckets, budgetBytes, config.Optimizer, SeedOf(config, table)),
            UnifiedTableConfig ue => new UnifiedTablePlan(ue, pooling, buckets, budgetBytes, config.Optimizer, SeedOf(config, table)),
            RobeTableConfig robe => new RobeTablePlan(robe, pooling, buckets, budgetBytes, config.Optimizer, SeedOf(config, table)),
            _ => throw new InvalidOperationException($"family {table.Family} is not sized by buckets."),
        };
    }

    private static BucketSizing Sizing(TableConfig table) => table switch
    {
        HashTableConfig hash => hash.Sizing,
        UnifiedTableConfig ue => ue.Sizing,
        RobeTableConfig robe => robe.Sizing,
        _ => new BucketSizing(null, null, 0),
    };

    // Width of one "bucket": a row of Dim floats, or a single weight of a ROBE array.
    private static int BucketDim(TableConfig table) => table is RobeTableConfig ? 1 : table.Dim;

    /// <summary>
    /// Stored widths of power-law md tables. Tables with the same alpha and min_dim form a group; within it
    /// d_i = lambda * n_i^-alpha with lambda chosen so the smallest-cardinality feature gets embedding_dim.
    /// </summary>
    private static Dictionary<TableConfig, int> MixedDimensionWidths(ModelConfig config)
    {
        var widths = new Dictionary<TableConfig, int>(ReferenceEqualityComparer.Instance);
        var groups = config.Tables.OfType<MdTableConfig>().Where(t => t.Mode == MixedDimensionMode.PowerLaw).GroupBy(t => (t.Alpha, t.MinDim));
        foreach (var group in groups)
        {
            var tables = group.ToArray();
            var n = tables.Select(t => (double)config.Feature(t.Features[0]).Cardinality.Rows!.Value).ToArray();
            int[] dims = MixedDimensionRule.Dimensions(n, group.Key.Alpha, config.EmbeddingDim, group.Key.MinDim);
            for (int i = 0; i < tables.Length; i++) widths[tables[i]] = dims[i];
        }
        return widths;
    }

    /// <summary>Each table hashes and initialises differently, and keeps doing so when tables are reordered.</summary>
    private static ulong SeedOf(ModelConfig config, TableConfig table) =>
        XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(table.Name), unchecked((long)config.HashSeed));

    private static ConfigException TooSmall(ModelConfig config, string reason) =>
        ConfigException.Invalid("memory_budget", new ByteCount(config.MemoryBudgetBytes ?? 0), reason);

    private static string Describe(TableConfig t) => $"table '{t.Name}' ({t.Source}, {t.Family}, dim {t.Dim})";

    private static string Largest(IEnumerable<TablePlan?> plans) =>
        string.Join(", ", plans.OfType<TablePlan>().OrderByDescending(p => p.Memory.WeightBytes).Take(3)
                              .Select(p => $"'{p.Name}' {ByteSize.Format(p.Memory.WeightBytes)}")) + (plans.Count(p => p is not null) > 3 ? ", ..." : "");

    private static string Show(long bytes) => new ByteCount(bytes).ToString();

    /// <summary>A byte count shown in error messages as "1048576 bytes (1.0 MiB)".</summary>
    private sealed record ByteCount(long Bytes)
    {
        public override string ToString() => Bytes < 1024 ? $"{Bytes} bytes" : $"{Bytes} bytes ({ByteSize.Format(Bytes)})";
    }
}
