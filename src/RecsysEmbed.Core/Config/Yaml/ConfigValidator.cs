using System.Globalization;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Core.Config.Yaml;

/// <summary>
/// Checks a parsed document key by key and builds the immutable <see cref="ModelConfig"/>: defaults applied,
/// default_table expanded, every feature served by exactly one table. Sizes that depend on the whole model
/// (budget-derived buckets, mixed dimensions) are checked by the planner.
/// </summary>
internal static class ConfigValidator
{
    public static ModelConfig Validate(ConfigDocument doc)
    {
        string name = Required(doc.Name, "name", "give the model a name");
        int embeddingDim = Positive(doc.EmbeddingDim ?? throw ConfigException.Missing("embedding_dim", "give the base embedding width, e.g. 16"), "embedding_dim");
        long? budget = doc.MemoryBudget is null ? null : Bytes(doc.MemoryBudget, "memory_budget");
        var dense = DenseFeatures(doc.DenseFeatures);
        var sparse = SparseFeatures(doc.SparseFeatures, dense);
        var model = new ModelShape(sparse, embeddingDim, budget);
        return new ModelConfig
        {
            Name = name,
            DenseFeatures = dense,
            SparseFeatures = sparse,
            EmbeddingDim = embeddingDim,
            MemoryBudgetBytes = budget,
            HashSeed = doc.HashSeed ?? 1,
            Tables = Tables(doc, model),
            Optimizer = SparseOptimizer(doc.Optimizer),
            DenseOptimizer = DenseOptimizer(doc.DenseOptimizer),
            Model = DenseModel(doc.Model),
            Training = Training(doc.Training),
        };
    }

    private static DenseModelConfig DenseModel(DenseModelDocument? m)
    {
        var s = new DenseModelConfig();
        if (m is null) return s;
        const string path = "model";
        var kind = m.Kind switch
        {
            null or "dlrm" => DenseModelKind.Dlrm,
            "dcnv2" or "dcn-v2" or "dcn_v2" => DenseModelKind.DcnV2,
            _ => throw ConfigException.Invalid(path + ".kind", m.Kind, "expected dlrm or dcnv2"),
        };
        return s with
        {
            Kind = kind,
            BottomMlp = m.BottomMlp is { } b ? Layers(b, path + ".bottom_mlp") : s.BottomMlp,
            TopMlp = m.TopMlp is { } t ? Layers(t, path + ".top_mlp") : s.TopMlp,
            DeepMlp = m.DeepMlp is { } d ? Layers(d, path + ".deep_mlp") : s.DeepMlp,
            CrossLayers = m.CrossLayers is { } c ? (c >= 0 ? c : throw ConfigException.Invalid(path + ".cross_layers", c, "must be >= 0")) : s.CrossLayers,
            Precision = m.Precision switch
            {
                null or "fp32" => DensePrecision.Fp32,
                "bf16" => DensePrecision.Bf16,
                _ => throw ConfigException.Invalid(path + ".precision", m.Precision, "expected fp32 or bf16"),
            },
        };
    }

    private static IReadOnlyList<int> Layers(List<int> sizes, string path)
    {
        for (int i = 0; i < sizes.Count; i++) Positive(sizes[i], $"{path}[{i}]");
        return sizes.ToArray();
    }

    private static TrainingConfig Training(TrainingDocument? t)
    {
        var s = new TrainingConfig();
        if (t is null) return s;
        return s with
        {
            BatchSize = t.BatchSize is { } b ? Positive(b, "training.batch_size") : s.BatchSize,
            Epochs = t.Epochs is { } e ? Positive(e, "training.epochs") : s.Epochs,
            Seed = t.Seed ?? s.Seed,
        };
    }

    /// <summary>What table validation needs to know about the rest of the model.</summary>
    private sealed record ModelShape(IReadOnlyList<SparseFeatureConfig> Features, int EmbeddingDim, long? BudgetBytes)
    {
        public int IndexOf(string feature)
        {
            for (int i = 0; i < Features.Count; i++) if (Features[i].Name == feature) return i;
            return -1;
        }
    }

    // ---- features ----

    private static List<string> DenseFeatures(List<string>? names)
    {
        var result = new List<string>();
        for (int i = 0; i < (names?.Count ?? 0); i++)
        {
            string path = $"dense_features[{i}]";
            string n = Required(names![i], path, "give the feature a name");
            int first = result.IndexOf(n);
            if (first >= 0) throw ConfigException.Invalid(path, n, $"dense_features[{first}] has the same name");
            result.Add(n);
        }
        return result;
    }

    private static List<SparseFeatureConfig> SparseFeatures(List<SparseFeatureDocument>? docs, List<string> dense)
    {
        if (docs is null || docs.Count == 0) throw ConfigException.Missing("sparse_features", "list at least one categorical feature");
        var result = new List<SparseFeatureConfig>();
        for (int i = 0; i < docs.Count; i++)
        {
            string path = $"sparse_features[{i}]";
            var d = docs[i] ?? throw ConfigException.Missing(path, "give the feature as a mapping {name, cardinality, pooling, weighted}");
            string name = Required(d.Name, path + ".name", "give the feature a name");
            int same = result.FindIndex(f => f.Name == name);
            if (same >= 0) throw ConfigException.Invalid(path + ".name", name, $"sparse_features[{same}] has the same name");
            int denseSame = dense.IndexOf(name);
            if (denseSame >= 0) throw ConfigException.Invalid(path + ".name", name, $"dense_features[{denseSame}] has the same name");
            var cardinality = ParseCardinality(d.Cardinality, path + ".cardinality");
            if (d.CardinalityEstimate is { } estimate)
            {
                if (cardinality.IsFixed)
                    throw ConfigException.Invalid(path + ".cardinality_estimate", estimate, "only a dynamic or unknown cardinality takes an estimate");
                Positive(estimate, path + ".cardinality_estimate");
            }
            var pooling = d.Pooling switch
            {
                null or "sum" => PoolingMode.Sum,
                "mean" => PoolingMode.Mean,
                _ => throw ConfigException.Invalid(path + ".pooling", d.Pooling, "expected sum or mean"),
            };
            result.Add(new SparseFeatureConfig(name, cardinality, pooling, d.Weighted ?? false, d.CardinalityEstimate));
        }
        return result;
    }

    private static Cardinality ParseCardinality(string? text, string path)
    {
        if (text is null) return Cardinality.Unknown;
        if (text == "dynamic") return Cardinality.Dynamic;
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long rows))
            throw ConfigException.Invalid(path, text, "expected an integer >= 1 or 'dynamic'");
        if (rows < 1) throw ConfigException.Invalid(path, rows, "a cardinality must be >= 1");
        return Cardinality.Fixed(rows);
    }

    // ---- tables ----

    // The keys beyond name/family/features/dim that each family takes.
    private static readonly Dictionary<string, string[]> FamilyKeys = new()
    {
        ["full"] = [],
        ["hash"] = ["buckets", "budget", "budget_share", "hashes", "combine"],
        ["qr"] = ["collisions", "partitions", "radices", "combine"],
        ["md"] = ["alpha", "min_dim", "hot_rows", "hot_dim", "tail_dim", "tail_buckets"],
        ["ue"] = ["buckets", "budget", "budget_share", "chunks"],
        ["lp"] = ["precision", "buckets"],
        ["tt"] = ["rank"],
        ["robe"] = ["size", "budget", "budget_share", "block"],
    };

    private static (string Key, object? Value)[] FamilyParams(TableDocument t) =>
    [
        ("buckets", t.Buckets), ("budget", t.Budget), ("budget_share", t.BudgetShare), ("hashes", t.Hashes), ("combine", t.Combine),
        ("collisions", t.Collisions), ("partitions", t.Partitions), ("radices", t.Radices),
        ("alpha", t.Alpha), ("min_dim", t.MinDim), ("hot_rows", t.HotRows), ("hot_dim", t.HotDim), ("tail_dim", t.TailDim), ("tail_buckets", t.TailBuckets),
        ("chunks", t.Chunks), ("precision", t.Precision), ("rank", t.Rank), ("size", t.Size), ("block", t.Block),
    ];

    private static List<TableConfig> Tables(ConfigDocument doc, ModelShape model)
    {
        var tables = new List<TableConfig>();
        var servedBy = new Dictionary<string, TableConfig>(StringComparer.Ordinal);
        var docs = doc.Tables ?? [];
        for (int i = 0; i < docs.Count; i++)
        {
            string path = $"tables[{i}]";
            var t = docs[i] ?? throw ConfigException.Missing(path, "give the table as a mapping {name, family, features, ...}");
            string family = Family(t, path);
            string name = Required(t.Name, path + ".name", "give the table a name");
            var same = tables.FirstOrDefault(x => x.Name == name);
            if (same is not null) throw ConfigException.Invalid(path + ".name", name, $"{same.Source} has the same name");
            var (features, chunks) = FeatureRefs(t, path, family, model, servedBy);
            var table = Table(t, path, family, name, features, chunks, model);
            foreach (var f in features) servedBy[f] = table;
            tables.Add(table);
        }

        var unserved = model.Features.Where(f => !servedBy.ContainsKey(f.Name)).Select(f => f.Name).ToList();
        if (doc.DefaultTable is { } def)
        {
            const string path = "default_table";
            string family = Family(def, path);
            if (def.Name is not null) throw ConfigException.Invalid(path + ".name", def.Name, "default_table names its tables t_<feature> (one ue table: t_default)");
            if (def.Features is not null) throw ConfigException.Invalid(path + ".features", def.Features.Select(f => f.Name), "default_table serves every feature no table lists; it takes no features");
            // ue and robe share one array between features, so all unlisted features share one table; every other
            // family gets one table per feature.
            List<(string Name, List<string> Features)> groups = family is "ue" or "robe"
                ? [("t_default", unserved)]
                : unserved.Select(f => ($"t_{f}", new List<string> { f })).ToList();
            if (unserved.Count == 0) groups.Clear();
            foreach (var (name, features) in groups)
            {
                var same = tables.FirstOrDefault(x => x.Name == name);
                if (same is not null) throw ConfigException.Invalid(path, family, $"its table for {string.Join(", ", features)} would be named '{name}', which {same.Source} already uses");
                var chunks = features.Select(_ => def.Chunks ?? 1).ToList();
                var table = Table(def, path, family, name, features, chunks, model);
                foreach (var f in features) servedBy[f] = table;
                tables.Add(table);
            }
        }
        else if (unserved.Count > 0)
        {
            int i = model.IndexOf(unserved[0]);
            throw ConfigException.Invalid($"sparse_features[{i}]", unserved[0], "no table serves this feature; list it in a table's features or add a default_table");
        }
        return tables;
    }

    private static string Family(TableDocument t, string path)
    {
        string family = Required(t.Family, path + ".family", $"give one of {string.Join(", ", TableConfig.Families)}");
        if (!FamilyKeys.TryGetValue(family, out var allowed))
            throw ConfigException.Invalid(path + ".family", family, $"expected one of {string.Join(", ", TableConfig.Families)}");
        foreach (var (key, value) in FamilyParams(t))
        {
            if (value is not null && !allowed.Contains(key))
            {
                string takes = allowed.Length == 0 ? "only name, family, features and dim" : "dim, " + string.Join(", ", allowed);
                throw ConfigException.Invalid($"{path}.{key}", value, $"a {family} table does not take {key}; it takes {takes}");
            }
        }
        return family;
    }

    private static (List<string> Features, List<int> Chunks) FeatureRefs(TableDocument t, string path, string family, ModelShape model,
                                                                         Dictionary<string, TableConfig> servedBy)
    {
        if (t.Features is null || t.Features.Count == 0) throw ConfigException.Missing(path + ".features", "list the sparse features this table serves");
        var features = new List<string>();
        var chunks = new List<int>();
        for (int j = 0; j < t.Features.Count; j++)
        {
            string fpath = $"{path}.features[{j}]";
            var r = t.Features[j];
            string name = Required(r?.Name, r is FeatureRefMappingDocument ? fpath + ".name" : fpath, "give a sparse feature's name");
            if (model.IndexOf(name) < 0)
                throw ConfigException.Invalid(fpath, name, $"no sparse feature has this name (known: {string.Join(", ", model.Features.Select(f => f.Name))})");
            if (features.Contains(name)) throw ConfigException.Invalid(fpath, name, "listed twice in this table");
            if (servedBy.TryGetValue(name, out var other))
                throw ConfigException.Invalid(fpath, name, $"already served by table '{other.Name}' ({other.Source}); a feature belongs to one table");
            if (r!.Chunks is { } c)
            {
                if (family != "ue") throw ConfigException.Invalid(fpath + ".chunks", c, $"only ue tables take chunks, this is a {family} table");
                Positive(c, fpath + ".chunks");
            }
            features.Add(name);
            chunks.Add(r.Chunks ?? t.Chunks ?? 1);
        }
        return (features, chunks);
    }

    private static TableConfig Table(TableDocument t, string path, string family, string name, List<string> features, List<int> chunks, ModelShape model)
    {
        int dim = t.Dim is { } d ? Positive(d, path + ".dim") : model.EmbeddingDim;
        if (t.Chunks is { } defaultChunks) Positive(defaultChunks, path + ".chunks");
        long maxCardinality = 0;
        if (TableConfig.IndexesIds(family))
        {
            foreach (var f in features)
            {
                int i = model.IndexOf(f);
                var c = model.Features[i].Cardinality;
                string served = $"feature '{f}' is served by table '{name}' ({path}, family {family}), which needs a fixed cardinality";
                if (c.IsDynamic)
                    throw ConfigException.Invalid($"sparse_features[{i}].cardinality", "dynamic", served + "; use a hash or ue table for an open vocabulary");
                if (!c.IsFixed)
                    throw ConfigException.Missing($"sparse_features[{i}].cardinality", served + "; give the number of distinct ids");
                maxCardinality = Math.Max(maxCardinality, c.Rows!.Value);
            }
        }
        return family switch
        {
            "full" => new FullTableConfig(name, path, features, dim),
            "hash" => new HashTableConfig(name, path, features, dim, Sizing(t, path, model),
                                          t.Hashes is { } k ? Positive(k, path + ".hashes") : 1, HashCombineOf(t.Combine, path)),
            "qr" => Qr(t, path, name, features, dim, maxCardinality),
            "md" => Md(t, path, name, features, model, maxCardinality),
            "lp" => new LpTableConfig(name, path, features, dim, PrecisionOf(t.Precision, path),
                                      t.Buckets is { } lpBuckets ? Positive(lpBuckets, path + ".buckets") : null),
            "tt" => new TtTableConfig(name, path, features, dim, t.Rank is { } rank ? Positive(rank, path + ".rank") : 8),
            "robe" => Robe(t, path, name, features, dim, model),
            _ => new UnifiedTableConfig(name, path, features, dim, chunks, Sizing(t, path, model)),
        };
    }

    private static RowPrecision PrecisionOf(string? text, string path) => text switch
    {
        null or "fp16" => RowPrecision.Fp16,
        "int8" => RowPrecision.Int8,
        _ => throw ConfigException.Invalid(path + ".precision", text, "an lp table stores rows as fp16 or int8"),
    };

    private static RobeTableConfig Robe(TableDocument t, string path, string name, List<string> features, int dim, ModelShape model)
    {
        if (t.Block is { } block && (block < 1 || block > dim))
            throw ConfigException.Invalid(path + ".block", block, $"the block size must be in [1, dim = {dim}]");
        if (t.Size is { } size && size < 1) throw ConfigException.Invalid(path + ".size", size, "the shared array needs at least 1 weight");
        // size plays the part of buckets (one weight per "bucket"), so the bucket sizing rules apply unchanged.
        var sizing = Sizing(new TableDocument { Buckets = t.Size, Budget = t.Budget, BudgetShare = t.BudgetShare }, path, model);
        return new RobeTableConfig(name, path, features, dim, sizing, t.Block ?? dim);
    }

    private static BucketSizing Sizing(TableDocument t, string path, ModelShape model)
    {
        if (t.Buckets is { } b && b < 1) throw ConfigException.Invalid(path + ".buckets", b, "a table needs at least 1 bucket");
        long? budget = t.Budget is null ? null : Bytes(t.Budget, path + ".budget");
        if (t.Buckets is not null && budget is not null)
            throw ConfigException.Invalid(path + ".budget", t.Budget, "give buckets or budget, not both");
        if (t.BudgetShare is { } share)
        {
            if (t.Buckets is not null || budget is not null)
                throw ConfigException.Invalid(path + ".budget_share", share, "a share splits the model's memory_budget; it does not apply with buckets or budget");
            if (!(share > 0) || !double.IsFinite(share)) throw ConfigException.Invalid(path + ".budget_share", share, "must be a finite number > 0");
        }
        if (t.Buckets is null && budget is null && model.BudgetBytes is null)
            throw ConfigException.Missing(path + ".buckets", "give buckets, a table budget, or a top-level memory_budget to derive them from");
        return new BucketSizing(t.Buckets, budget, t.BudgetShare ?? 1.0);
    }

    private static HashCombine HashCombineOf(string? text, string path) => text switch
    {
        null or "sum" => HashCombine.Sum,
        "concat" => HashCombine.Concat,
        _ => throw ConfigException.Invalid(path + ".combine", text, "a hash table combines its rows by sum or concat"),
    };

    private static QrTableConfig Qr(TableDocument t, string path, string name, List<string> features, int dim, long cardinality)
    {
        var given = new[] { ("collisions", (object?)t.Collisions), ("partitions", t.Partitions), ("radices", t.Radices) }.Where(p => p.Item2 is not null).ToList();
        if (given.Count > 1)
            throw ConfigException.Invalid($"{path}.{given[1].Item1}", given[1].Item2, $"give one of collisions, partitions or radices; {given[0].Item1} is set too");
        var combine = t.Combine switch
        {
            null or "mult" => QrCombine.Multiply,
            "add" => QrCombine.Add,
            "concat" => QrCombine.Concat,
            _ => throw ConfigException.Invalid(path + ".combine", t.Combine, "a qr table combines its partitions by add, mult or concat"),
        };
        if (t.Collisions is { } c && c < 2)
            throw ConfigException.Invalid(path + ".collisions", c, "QR needs collisions >= 2 (1 would be a full table)");
        if (t.Partitions is { } k && k < 2)
            throw ConfigException.Invalid(path + ".partitions", k, "QR needs partitions >= 2");
        if (t.Radices is { } radices)
        {
            if (radices.Count < 2) throw ConfigException.Invalid(path + ".radices", radices, "QR needs at least 2 radices");
            for (int j = 0; j < radices.Count; j++)
                if (radices[j] < 1) throw ConfigException.Invalid($"{path}.radices[{j}]", radices[j], "a radix must be >= 1");
            double product = radices.Aggregate(1.0, (p, r) => p * r);
            if (product < cardinality)
                throw ConfigException.Invalid(path + ".radices", radices, $"their product {product:0} is below the cardinality {cardinality}, so distinct ids would share every row");
        }
        // Shi et al. report collisions = 4 as a good default for Criteo-sized features.
        long? collisions = given.Count == 0 ? 4 : t.Collisions;
        return new QrTableConfig(name, path, features, dim, collisions, t.Partitions, t.Radices?.ToArray(), combine);
    }

    private static MdTableConfig Md(TableDocument t, string path, string name, List<string> features, ModelShape model, long cardinality)
    {
        int e = model.EmbeddingDim;
        if (features.Count != 1)
            throw ConfigException.Invalid(path + ".features", features, "an md table serves one feature; give each feature its own md table, or use default_table");
        int Width(int value, string key)
        {
            if (value < 1 || value > e)
                throw ConfigException.Invalid($"{path}.{key}", value, $"an md width must be in [1, embedding_dim = {e}]; it is projected up to embedding_dim");
            return value;
        }
        if (t.HotRows is { } hot)
        {
            if (t.Alpha is not null) throw ConfigException.Invalid(path + ".alpha", t.Alpha, "give alpha or hot_rows, not both");
            if (t.Dim is not null) throw ConfigException.Invalid(path + ".dim", t.Dim, "with hot_rows, give hot_dim and tail_dim instead of dim");
            if (t.MinDim is not null) throw ConfigException.Invalid(path + ".min_dim", t.MinDim, "min_dim applies with alpha only");
            if (hot < 1 || hot >= cardinality)
                throw ConfigException.Invalid(path + ".hot_rows", hot, $"must be in [1, cardinality - 1 = {cardinality - 1}] so both blocks have rows");
            int tail = Width(t.TailDim ?? throw ConfigException.Missing(path + ".tail_dim", "hot_rows needs the width of the tail block"), "tail_dim");
            int hotDim = t.HotDim is { } h ? Width(h, "hot_dim") : e;
            if (t.TailBuckets is { } buckets && buckets < 1)
                throw ConfigException.Invalid(path + ".tail_buckets", buckets, "the hashed tail needs at least 1 bucket");
            return new MdTableConfig(name, path, features, e, MixedDimensionMode.HotTail, HotRows: hot, HotDim: hotDim, TailDim: tail, TailBuckets: t.TailBuckets);
        }
        if (t.TailBuckets is not null) throw ConfigException.Invalid(path + ".tail_buckets", t.TailBuckets, "tail_buckets applies with hot_rows only (it hashes the tail past the hot block)");
        if (t.HotDim is not null) throw ConfigException.Invalid(path + ".hot_dim", t.HotDim, "hot_dim applies with hot_rows only");
        if (t.TailDim is not null) throw ConfigException.Invalid(path + ".tail_dim", t.TailDim, "tail_dim applies with hot_rows only");
        if (t.Alpha is { } alpha)
        {
            if (t.Dim is not null) throw ConfigException.Invalid(path + ".dim", t.Dim, "give alpha or dim, not both (alpha derives the width)");
            if (!(alpha >= 0) || !double.IsFinite(alpha)) throw ConfigException.Invalid(path + ".alpha", alpha, "the temperature alpha must be a finite number >= 0");
            int minDim = t.MinDim is { } m ? Width(m, "min_dim") : Math.Min(4, e);
            return new MdTableConfig(name, path, features, e, MixedDimensionMode.PowerLaw, Alpha: alpha, MinDim: minDim);
        }
        if (t.MinDim is not null) throw ConfigException.Invalid(path + ".min_dim", t.MinDim, "min_dim applies with alpha only");
        if (t.Dim is { } d) return new MdTableConfig(name, path, features, e, MixedDimensionMode.Fixed, StoredDim: Width(d, "dim"));
        throw ConfigException.Missing(path + ".alpha", "an md table needs alpha (power-law width), dim (a fixed width), or hot_rows with tail_dim");
    }

    // ---- optimizers ----

    private static SparseOptimizerSettings SparseOptimizer(SparseOptimizerDocument? o)
    {
        var s = new SparseOptimizerSettings();
        if (o is null) return s;
        const string path = "optimizer";
        var kind = o.Kind switch
        {
            null or "rowwise_adagrad" => SparseOptimizerKind.RowWiseAdagrad,
            "adagrad" => SparseOptimizerKind.Adagrad,
            "sgd" => SparseOptimizerKind.Sgd,
            "adam" => SparseOptimizerKind.Adam,
            _ => throw ConfigException.Invalid(path + ".kind", o.Kind, "expected one of rowwise_adagrad, adagrad, sgd, adam"),
        };
        bool adagrad = kind is SparseOptimizerKind.Adagrad or SparseOptimizerKind.RowWiseAdagrad;
        OnlyFor(path, "beta1", o.Beta1, kind == SparseOptimizerKind.Adam, "adam");
        OnlyFor(path, "beta2", o.Beta2, kind == SparseOptimizerKind.Adam, "adam");
        OnlyFor(path, "eps", o.Eps, kind != SparseOptimizerKind.Sgd, "adagrad, rowwise_adagrad and adam");
        OnlyFor(path, "initial_accumulator", o.InitialAccumulator, adagrad, "adagrad and rowwise_adagrad");
        return s with
        {
            Kind = kind,
            LearningRate = o.LearningRate is { } lr ? (float)PositiveRate(lr, path + ".learning_rate") : s.LearningRate,
            Epsilon = o.Eps is { } eps ? (float)PositiveRate(eps, path + ".eps") : s.Epsilon,
            Beta1 = o.Beta1 is { } b1 ? (float)Beta(b1, path + ".beta1") : s.Beta1,
            Beta2 = o.Beta2 is { } b2 ? (float)Beta(b2, path + ".beta2") : s.Beta2,
            InitialAccumulator = o.InitialAccumulator is { } a ? (float)NonNegative(a, path + ".initial_accumulator") : s.InitialAccumulator,
        };
    }

    private static DenseOptimizerConfig DenseOptimizer(DenseOptimizerDocument? o)
    {
        var s = new DenseOptimizerConfig();
        if (o is null) return s;
        const string path = "dense_optimizer";
        var kind = o.Kind switch
        {
            null or "adam" => DenseOptimizerKind.Adam,
            "adagrad" => DenseOptimizerKind.Adagrad,
            "sgd" => DenseOptimizerKind.Sgd,
            _ => throw ConfigException.Invalid(path + ".kind", o.Kind, "expected one of adam, adagrad, sgd"),
        };
        OnlyFor(path, "beta1", o.Beta1, kind == DenseOptimizerKind.Adam, "adam");
        OnlyFor(path, "beta2", o.Beta2, kind == DenseOptimizerKind.Adam, "adam");
        OnlyFor(path, "eps", o.Eps, kind != DenseOptimizerKind.Sgd, "adam and adagrad");
        return s with
        {
            Kind = kind,
            LearningRate = o.LearningRate is { } lr ? PositiveRate(lr, path + ".learning_rate") : s.LearningRate,
            Epsilon = o.Eps is { } eps ? PositiveRate(eps, path + ".eps") : s.Epsilon,
            Beta1 = o.Beta1 is { } b1 ? Beta(b1, path + ".beta1") : s.Beta1,
            Beta2 = o.Beta2 is { } b2 ? Beta(b2, path + ".beta2") : s.Beta2,
            WeightDecay = o.WeightDecay is { } wd ? NonNegative(wd, path + ".weight_decay") : s.WeightDecay,
        };
    }

    private static void OnlyFor(string path, string key, double? value, bool applies, string kinds)
    {
        if (value is not null && !applies) throw ConfigException.Invalid($"{path}.{key}", value, $"only {kinds} take {key}");
    }

    // ---- scalars ----

    private static string Required(string? value, string path, string hint)
    {
        if (value is null) throw ConfigException.Missing(path, hint);
        if (string.IsNullOrWhiteSpace(value)) throw ConfigException.Invalid(path, value, "must not be empty");
        return value;
    }

    private static int Positive(int value, string path) =>
        value > 0 ? value : throw ConfigException.Invalid(path, value, "must be > 0");

    private static long Positive(long value, string path) =>
        value > 0 ? value : throw ConfigException.Invalid(path, value, "must be > 0");

    // Values end up as float: reject what float cannot hold rather than train with inf or 0.
    private static double PositiveRate(double value, string path) =>
        value > 0 && float.IsFinite((float)value) && (float)value > 0 ? value : throw ConfigException.Invalid(path, value, "must be a finite number > 0");

    private static double NonNegative(double value, string path) =>
        value >= 0 && float.IsFinite((float)value) ? value : throw ConfigException.Invalid(path, value, "must be a finite number >= 0");

    private static double Beta(double value, string path) =>
        value >= 0 && (float)value < 1 ? value : throw ConfigException.Invalid(path, value, "must be in [0, 1)");

    private static long Bytes(string text, string path)
    {
        if (!ByteSize.TryParse(text, out long bytes)) throw ConfigException.Invalid(path, text, ByteSize.Expected);
        if (bytes <= 0) throw ConfigException.Invalid(path, text, "must be > 0 bytes");
        return bytes;
    }
}
