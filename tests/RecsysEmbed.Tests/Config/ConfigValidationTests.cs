using RecsysEmbed.Core.Config;
using static RecsysEmbed.Tests.Config.TestConfigs;

namespace RecsysEmbed.Tests.Config;

/// <summary>Every invalid config fails with a <see cref="ConfigException"/> naming the key path and the value.</summary>
public class ConfigValidationTests
{
    private const string FullA = "tables:\n  - {name: t, family: full, features: [a]}\ndefault_table: {family: hash, buckets: 10}";

    [Fact]
    public void UnknownKey_NamesKeyPathAndLine()
    {
        var e = Fails(Model("tables:\n  - name: t\n    family: qr\n    features: [a]\n    colisions: 4\ndefault_table: {family: hash, buckets: 10}"),
                      "tables[0].colisions", "unknown key 'colisions'", "line 12", "collisions");
        Assert.Contains("tables[0] takes:", e.Message);
    }

    [Fact]
    public void UnknownKey_AtTopLevelAndNested()
    {
        Fails(Model(FullA + "\nembeding_dim: 8"), "embeding_dim", "unknown key 'embeding_dim'", "the top level takes:");
        Fails(Model(FullA + "\noptimizer: {kind: sgd, lr: 0.1}"), "optimizer.lr", "unknown key 'lr'", "learning_rate");
        Fails(Model(FullA, features: "sparse_features:\n  - {name: a, cardinality: 100, pool: sum}"), "sparse_features[0].pool", "unknown key 'pool'");
        Fails(Model("tables:\n  - {name: t, family: ue, buckets: 8, features: [a, {name: b, chunk: 2}]}\ndefault_table: {family: hash, buckets: 10}"),
              "tables[0].features[1].chunk", "unknown key 'chunk'", "chunks");
    }

    [Fact]
    public void WrongValueType_NamesKeyPathValueAndExpectedType()
    {
        Fails(Model("tables:\n  - {name: t, family: full, features: [a], dim: abc}\ndefault_table: {family: hash, buckets: 10}"),
              "tables[0].dim", "'abc' is invalid", "an integer", "line");
        Fails(Model(FullA + "\nhash_seed: -1"), "hash_seed", "'-1'", "non-negative integer");
        Fails(Model("tables:\n  - {name: t, family: full, features: a}\ndefault_table: {family: hash, buckets: 10}"),
              "tables[0].features", "'a' is invalid", "a list");
    }

    [Fact]
    public void DuplicateKey_IsRejected() =>
        Fails(Model(FullA, head: "embedding_dim: 4"), "embedding_dim", "duplicate key");

    [Fact]
    public void MalformedYaml_NamesLine()
    {
        var e = Assert.Throws<ConfigException>(() => ModelConfig.Parse("name: [x\nembedding_dim: 8\n"));
        Assert.Contains("line", e.Message);
    }

    [Fact]
    public void EmptyDocument_IsRejected() =>
        Assert.Contains("empty", Assert.Throws<ConfigException>(() => ModelConfig.Parse("")).Message);

    [Theory]
    [InlineData("full")]
    [InlineData("qr")]
    [InlineData("md")]
    public void MissingCardinality_ForFixedSizeFamily(string family)
    {
        string extra = family == "md" ? ", alpha: 0.3" : "";
        Fails(Model($"tables:\n  - {{name: t, family: {family}, features: [u]{extra}}}\ndefault_table: {{family: hash, buckets: 10}}"),
              "sparse_features[3].cardinality", "missing", "'u'", "tables[0]", family);
    }

    [Theory]
    [InlineData("full")]
    [InlineData("qr")]
    [InlineData("md")]
    public void DynamicCardinality_ForFixedSizeFamily(string family)
    {
        string extra = family == "md" ? ", dim: 4" : "";
        Fails(Model($"tables:\n  - {{name: t, family: {family}, features: [d]{extra}}}\ndefault_table: {{family: hash, buckets: 10}}"),
              "sparse_features[2].cardinality", "'dynamic' is invalid", "tables[0]", family, "fixed cardinality");
    }

    [Fact]
    public void DynamicCardinality_ThroughDefaultTable_NamesDefaultTable() =>
        Fails(Model("default_table: {family: full}"), "sparse_features[2].cardinality", "'dynamic'", "default_table");

    [Fact]
    public void BadCardinality_IsRejected()
    {
        Fails(Model(FullA, features: "sparse_features:\n  - {name: a, cardinality: lots}"), "sparse_features[0].cardinality", "'lots' is invalid", "dynamic");
        Fails(Model(FullA, features: "sparse_features:\n  - {name: a, cardinality: 0}"), "sparse_features[0].cardinality", "0 is invalid", ">= 1");
    }

    [Fact]
    public void NonPositiveDims_AreRejected()
    {
        Fails(Model("tables:\n  - {name: t, family: full, features: [a], dim: 0}\ndefault_table: {family: hash, buckets: 10}"),
              "tables[0].dim", "0 is invalid", "> 0");
        Fails(Model("tables:\n  - {name: t, family: ue, buckets: 10, features: [d], dim: -3}\ndefault_table: {family: hash, buckets: 10}"),
              "tables[0].dim", "-3 is invalid");
        Fails("name: x\nembedding_dim: 0\n" + Features + "\ndefault_table: {family: hash, buckets: 10}\n", "embedding_dim", "0 is invalid", "> 0");
        Fails(Model("default_table: {family: md, dim: 9}", features: "sparse_features:\n  - {name: a, cardinality: 100}"),
              "default_table.dim", "9 is invalid", "embedding_dim = 8");
    }

    [Fact]
    public void QrCollisionsBelowTwo_AreRejected()
    {
        const string three = "sparse_features:\n  - {name: a, cardinality: 100}\n  - {name: b, cardinality: 100}\n  - {name: x, cardinality: 100}";
        var e = Fails(Model("tables:\n  - {name: t, family: full, features: [a]}\n  - {name: q, family: full, features: [b]}\n  - {name: r, family: qr, features: [x], collisions: 1}", three),
                      "tables[2].collisions");
        Assert.StartsWith("tables[2].collisions: 1 is invalid: QR needs collisions >= 2", e.Message);
    }

    [Fact]
    public void QrSizings_AreChecked()
    {
        const string one = "sparse_features:\n  - {name: a, cardinality: 100}";
        Fails(Model("default_table: {family: qr, partitions: 1}", one), "default_table.partitions", "1 is invalid", ">= 2");
        Fails(Model("default_table: {family: qr, radices: [5, 10]}", one), "default_table.radices", "[5, 10] is invalid", "below the cardinality 100");
        Fails(Model("default_table: {family: qr, collisions: 4, partitions: 2}", one), "default_table.partitions", "one of collisions, partitions or radices");
        Fails(Model("default_table: {family: qr, combine: max}", one), "default_table.combine", "'max'", "add, mult or concat");
    }

    [Fact]
    public void FeatureInTwoTables_IsRejected() =>
        Fails(Model("tables:\n  - {name: t1, family: full, features: [a]}\n  - {name: t2, family: hash, buckets: 10, features: [b, a]}\ndefault_table: {family: hash, buckets: 10}"),
              "tables[1].features[1]", "'a' is invalid", "already served by table 't1' (tables[0])");

    [Fact]
    public void FeatureTwiceInOneTable_IsRejected() =>
        Fails(Model("tables:\n  - {name: t1, family: hash, buckets: 10, features: [a, a]}\ndefault_table: {family: hash, buckets: 10}"),
              "tables[0].features[1]", "'a'", "twice");

    [Fact]
    public void UnknownFeature_IsRejected() =>
        Fails(Model("tables:\n  - {name: t1, family: full, features: [a, zz]}\ndefault_table: {family: hash, buckets: 10}"),
              "tables[0].features[1]", "'zz' is invalid", "no sparse feature has this name");

    [Fact]
    public void UnservedFeature_WithoutDefaultTable_IsRejected() =>
        Fails(Model("tables:\n  - {name: t1, family: full, features: [a]}"), "sparse_features[1]", "'b'", "no table serves");

    [Fact]
    public void UnknownFamily_IsRejected() =>
        Fails(Model("tables:\n  - {name: t1, family: lsh, features: [a]}\ndefault_table: {family: hash, buckets: 10}"),
              "tables[0].family", "'lsh' is invalid", "full, hash, qr, md, ue");

    [Fact]
    public void FamilyParameter_OnAnotherFamily_IsRejected() =>
        Fails(Model("tables:\n  - {name: t1, family: hash, buckets: 10, collisions: 4, features: [a]}\ndefault_table: {family: hash, buckets: 10}"),
              "tables[0].collisions", "4 is invalid", "a hash table does not take collisions");

    [Fact]
    public void Chunks_OnlyForUnifiedTables() =>
        Fails(Model("tables:\n  - {name: t1, family: hash, buckets: 10, features: [{name: a, chunks: 2}]}\ndefault_table: {family: hash, buckets: 10}"),
              "tables[0].features[0].chunks", "2 is invalid", "only ue tables");

    [Fact]
    public void DuplicateNames_AreRejected()
    {
        Fails(Model("tables:\n  - {name: t, family: full, features: [a]}\n  - {name: t, family: hash, buckets: 4, features: [b]}\ndefault_table: {family: hash, buckets: 10}"),
              "tables[1].name", "'t'", "tables[0]");
        Fails(Model(FullA, features: "sparse_features:\n  - {name: a, cardinality: 100}\n  - {name: a, cardinality: 5}"), "sparse_features[1].name", "'a'");
        Fails(Model(FullA, head: "dense_features: [I1, a]", features: "sparse_features:\n  - {name: a, cardinality: 100}"), "sparse_features[0].name", "'a'", "dense_features[1]");
        Fails(Model("tables:\n  - {name: t_b, family: full, features: [a]}\ndefault_table: {family: hash, buckets: 10}"), "default_table", "'t_b'", "tables[0]");
    }

    [Fact]
    public void BadPooling_IsRejected() =>
        Fails(Model(FullA, features: "sparse_features:\n  - {name: a, cardinality: 100, pooling: max}"), "sparse_features[0].pooling", "'max' is invalid", "sum or mean");

    [Fact]
    public void BadOptimizerKind_IsRejected()
    {
        Fails(Model(FullA + "\noptimizer: {kind: rmsprop}"), "optimizer.kind", "'rmsprop' is invalid", "rowwise_adagrad, adagrad, sgd, adam");
        Fails(Model(FullA + "\ndense_optimizer: {kind: lamb}"), "dense_optimizer.kind", "'lamb' is invalid", "adam, adagrad, sgd");
    }

    [Theory]
    [InlineData("optimizer", "0")]
    [InlineData("optimizer", "-0.5")]
    [InlineData("optimizer", "1e300")]
    [InlineData("dense_optimizer", "0")]
    [InlineData("dense_optimizer", "-1")]
    public void NonPositiveLearningRate_IsRejected(string key, string value)
    {
        string shown = double.Parse(value, System.Globalization.CultureInfo.InvariantCulture).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        Fails(Model(FullA + $"\n{key}: {{learning_rate: {value}}}"), key + ".learning_rate", shown + " is invalid", "> 0");
    }

    [Fact]
    public void OptimizerKeysOfAnotherKind_AreRejected()
    {
        Fails(Model(FullA + "\noptimizer: {kind: sgd, beta1: 0.9}"), "optimizer.beta1", "0.9 is invalid", "only adam");
        Fails(Model(FullA + "\noptimizer: {kind: adam, beta2: 1.0}"), "optimizer.beta2", "1 is invalid", "[0, 1)");
    }

    [Theory]
    [InlineData("64 MiBs")]
    [InlineData("lots")]
    [InlineData("64MB!")]
    [InlineData("1e6")]
    [InlineData("MiB")]
    [InlineData("-5")]
    public void MalformedBudget_IsRejected(string budget) =>
        Fails(Model(FullA, head: $"memory_budget: \"{budget}\""), "memory_budget", $"'{budget}' is invalid", "KiB/MiB/GiB");

    [Fact]
    public void ZeroBudget_AndMalformedTableBudget_AreRejected()
    {
        Fails(Model(FullA, head: "memory_budget: 0"), "memory_budget", "'0' is invalid", "> 0 bytes");
        Fails(Model("tables:\n  - {name: t, family: ue, budget: 1 GiB please, features: [a, b, d, u]}"), "tables[0].budget", "'1 GiB please' is invalid");
    }

    [Fact]
    public void HashWithoutAnySize_IsRejected() =>
        Fails(Model("default_table: {family: hash}"), "default_table.buckets", "missing", "memory_budget");

    [Fact]
    public void BucketsAndBudgetTogether_AreRejected() =>
        Fails(Model("default_table: {family: hash, buckets: 10, budget: 1KiB}"), "default_table.budget", "'1KiB'", "not both");

    [Fact]
    public void BudgetTooSmall_ForFixedTables_NamesMemoryBudget()
    {
        // Full table a: 100 x 8 x 4 B = 3200 B > 2 KiB.
        var e = Fails(Model("tables:\n  - {name: t, family: full, features: [a]}\n  - {name: h, family: ue, features: [b, d, u]}", head: "memory_budget: 2KiB"),
                      "memory_budget", "2048 bytes", "fixed-size tables already take 3200 bytes", "'h'", "tables[1]");
        Assert.Contains("'t'", e.Message);
    }

    [Fact]
    public void BudgetTooSmall_ForOneBucket_NamesMemoryBudget() =>
        // 3200 B of full table leave 10 B for the ue table, under one 32-byte bucket.
        Fails(Model("tables:\n  - {name: t, family: full, features: [a]}\n  - {name: h, family: ue, features: [b, d, u]}", head: "memory_budget: 3210"),
              "memory_budget", "3210 bytes", "leaves 10 bytes for table 'h'", "less than one bucket of 32 bytes");

    [Fact]
    public void BudgetTooSmall_ForAllFixedTables_NamesMemoryBudget() =>
        Fails(Model("default_table: {family: hash, buckets: 1000}", head: "memory_budget: 64KiB"),
              "memory_budget", "65536 bytes", "the tables take 128000 bytes");

    [Fact]
    public void TableBudgetTooSmall_NamesTableBudget() =>
        Fails(Model("tables:\n  - {name: h, family: ue, budget: 20, features: [a, b, d, u]}"),
              "tables[0].budget", "20 bytes is invalid", "needs at least 32 bytes");

    [Fact]
    public void MdTables_AreChecked()
    {
        const string one = "sparse_features:\n  - {name: a, cardinality: 100}\n  - {name: b, cardinality: 50}";
        Fails(Model("tables:\n  - {name: m, family: md, alpha: 0.3, features: [a, b]}", one), "tables[0].features", "['a', 'b'] is invalid", "one feature");
        Fails(Model("default_table: {family: md}", one), "default_table.alpha", "missing", "hot_rows");
        Fails(Model("default_table: {family: md, alpha: -1}", one), "default_table.alpha", "-1 is invalid", ">= 0");
        Fails(Model("default_table: {family: md, alpha: 0.3, dim: 4}", one), "default_table.dim", "4 is invalid", "not both");
        Fails(Model("default_table: {family: md, hot_rows: 50, tail_dim: 4}", one), "default_table.hot_rows", "50 is invalid", "cardinality - 1 = 49");
        Fails(Model("default_table: {family: md, hot_rows: 10}", one), "default_table.tail_dim", "missing");
        Fails(Model("default_table: {family: md, alpha: 0.3, min_dim: 9}", one), "default_table.min_dim", "9 is invalid");
        Fails(Model("default_table: {family: md, hot_rows: 10, tail_dim: 4, tail_buckets: 0}", one), "default_table.tail_buckets", "0 is invalid", "at least 1 bucket");
        Fails(Model("tables:\n  - {name: m, family: md, features: [a], hot_rows: 10, tail_dim: 4, tail_buckets: -3}", one), "tables[0].tail_buckets", "-3 is invalid");
        Fails(Model("default_table: {family: md, alpha: 0.3, tail_buckets: 100}", one), "default_table.tail_buckets", "100 is invalid", "hot_rows only");
        Fails(Model("default_table: {family: md, dim: 4, tail_buckets: 100}", one), "default_table.tail_buckets", "100 is invalid", "hot_rows only");
        Fails(Model("default_table: {family: full, tail_buckets: 100}", one), "default_table.tail_buckets");
    }

    [Fact]
    public void DefaultTable_TakesNoFeaturesOrName() =>
        Fails(Model("default_table: {family: full, features: [a]}"), "default_table.features", "takes no features");

    [Fact]
    public void MissingRequiredKeys_AreNamed()
    {
        Fails("embedding_dim: 8\n" + Features + "\ndefault_table: {family: hash, buckets: 10}\n", "name", "missing");
        Fails("name: x\n" + Features + "\ndefault_table: {family: hash, buckets: 10}\n", "embedding_dim", "missing");
        Fails("name: x\nembedding_dim: 8\n", "sparse_features", "missing");
        Fails(Model("tables:\n  - {name: t, features: [a]}\ndefault_table: {family: hash, buckets: 10}"), "tables[0].family", "missing");
        Fails(Model("tables:\n  - {family: full, features: [a]}\ndefault_table: {family: hash, buckets: 10}"), "tables[0].name", "missing");
        Fails(Model("tables:\n  - {name: t, family: full}\ndefault_table: {family: hash, buckets: 10}"), "tables[0].features", "missing");
    }
}
