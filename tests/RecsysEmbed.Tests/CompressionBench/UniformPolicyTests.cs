using Microsoft.Data.Analysis;
using RecsysEmbed.Cli;
using RecsysEmbed.CompressionBench;
using RecsysEmbed.Core.Config.Planning;

namespace RecsysEmbed.Tests.CompressionBench;

/// <summary>
/// --policy uniform (Shi et al. 2020; Coleman et al. 2023) on the Criteo-like cardinalities of
/// <see cref="BudgetSolverTests"/>: hash, multihash and qr compress every feature with one factor c, the smallest that
/// fits (a finer one would not), ue puts every feature in one shared table that fills the budget, and the other
/// methods do not change. Counts come from the planner, not from the solvers' own arithmetic.
/// </summary>
public sealed class UniformPolicySolverTests
{
    private static SuiteModel Uniform()
    {
        var m = BudgetSolverTests.Model();
        return new SuiteModel(m.Options with { Policy = SuitePolicy.Uniform }, m.DenseFeatures, m.Sparse);
    }

    private static long RowBytes(SuiteModel model) => model.Dim * sizeof(float);

    private static string Param(MethodSolution s, string key) => s.Parameters.Single(p => p.Key == key).Value;

    public static TheoryData<string, double> Cells()
    {
        var data = new TheoryData<string, double>();
        foreach (var m in CompressionMethods.Names)
            foreach (double b in new[] { 1, 0.5, 0.25, 0.0625, 1.0 / 64 }) data.Add(m, b);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void Solution_FitsTheBudgetByThePlannersCount(string method, double budget)
    {
        var model = Uniform();
        long budgetBytes = (long)(budget * model.FullWeightBytes);
        var solution = CompressionMethods.Get(method).Solve(model, budgetBytes);
        if (!solution.Reachable)
        {
            Assert.False(string.IsNullOrWhiteSpace(solution.Reason));
            Assert.False(method is "hash" or "multihash" or "ue" or "ue2", $"{method} reaches every budget here: {solution.Reason}");
            return;
        }
        long planned = model.Plan(solution.TablesYaml, solution.MemoryBudget).Total.WeightBytes;
        Assert.Equal(planned, solution.WeightBytes);
        Assert.True(planned <= budgetBytes, $"{method} at {budget}: {planned} bytes > budget {budgetBytes}");
        if (SuitePolicies.AppliesTo(method)) Assert.Equal("uniform", Param(solution, "policy"));
    }

    [Theory]
    [InlineData(1, 0.5)]
    [InlineData(1, 0.25)]
    [InlineData(1, 1.0 / 16)]
    [InlineData(1, 1.0 / 64)]
    [InlineData(2, 0.25)]
    [InlineData(2, 1.0 / 64)]
    public void Hash_EveryFeatureGetsCeilNOverCBucketsAndAFinerFactorDoesNotFit(int hashes, double budget)
    {
        var model = Uniform();
        long budgetBytes = (long)(budget * model.FullWeightBytes);
        var s = new HashMethod(hashes).Solve(model, budgetBytes);
        Assert.True(s.Reachable, s.Reason);
        var plan = model.Plan(s.TablesYaml, null);
        Assert.True(plan.Total.WeightBytes <= budgetBytes);
        var n = model.Sparse.Select(f => f.Cardinality).ToArray();
        var b = model.Sparse.Select(f => Assert.IsType<HashTablePlan>(plan.TableOf(f.Name)).Buckets).ToArray();
        Assert.All(model.Sparse, f => Assert.Equal(hashes, Assert.IsType<HashTablePlan>(plan.TableOf(f.Name)).Config.HashCount));

        // c = the largest ids-per-bucket ratio n_g / b_g; every feature has ceil(n_f / c) buckets (exact integers).
        int g = 0;
        for (int f = 1; f < n.Length; f++)
            if ((Int128)n[f] * b[g] > (Int128)n[g] * b[f]) g = f;
        for (int f = 0; f < n.Length; f++)
            Assert.Equal((long)(((Int128)n[f] * b[g] + n[g] - 1) / n[g]), b[f]);
        double c = (double)n[g] / b[g];
        Assert.True(c > 1);
        Assert.InRange(double.Parse(Param(s, "compression"), System.Globalization.CultureInfo.InvariantCulture), c - 1e-4, c + 1e-4);
        Assert.Equal(b.Sum(), long.Parse(Param(s, "buckets")));

        // Any finer factor (just below c) gives the features at ratio c one bucket more: over the budget.
        long finer = n.Select((x, f) => (Int128)x * b[g] == (Int128)n[g] * b[f] ? b[f] + 1 : b[f]).Sum();
        Assert.True(finer * RowBytes(model) > budgetBytes, $"c just below {c} would take {finer} buckets and still fit");
        // The same in floating point, a little finer still.
        long finerFloat = n.Sum(x => (long)Math.Ceiling(x / (c * (1 - 1e-9))));
        Assert.True(finerFloat * RowBytes(model) > budgetBytes);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.25)]
    [InlineData(1.0 / 16)]
    [InlineData(1.0 / 64)]
    public void Qr_EveryFeatureGetsRemainderFirstRadicesAndAFinerFactorDoesNotFit(double budget)
    {
        var model = Uniform();
        long budgetBytes = (long)(budget * model.FullWeightBytes);
        var s = new QrMethod().Solve(model, budgetBytes);
        Assert.True(s.Reachable, s.Reason);
        long c = long.Parse(Param(s, "collisions"));
        Assert.True(c >= 2);
        var plan = model.Plan(s.TablesYaml, null);
        Assert.True(plan.Total.WeightBytes <= budgetBytes);
        foreach (var f in model.Sparse)
        {
            var qr = Assert.IsType<QrTablePlan>(plan.TableOf(f.Name));
            long k = Math.Min(c, f.Cardinality); // a feature with n <= c ids: [1, n]
            // Remainder table first (ceil(n / c) rows, each shared by c ids), then the c-row quotient table.
            Assert.Equal(new[] { (f.Cardinality + k - 1) / k, k }, qr.Radices);
            Assert.Equal(RecsysEmbed.Core.Tables.QuotientRemainderTable.QuotientRemainderRadices(f.Cardinality, k), qr.Radices);
        }
        // Collision factor c - 1 (the finer one), by the planner's count, is over the budget.
        if (c > 2)
        {
            string finer = model.PerFeatureTables(f => $"family: qr, collisions: {Math.Min(c - 1, f.Cardinality)}, combine: mult");
            long bytes = model.Plan(finer, null).Total.WeightBytes;
            Assert.True(bytes > budgetBytes, $"collision factor {c - 1} would take {bytes} <= {budgetBytes}");
        }
        else
        {
            Assert.Equal(0.5, budget); // only the largest budget could allow the finest factor
        }
    }

    [Fact]
    public void Qr_HalfTheBytesNeedsThreeCollisionsSinceTwoDoNotFit()
    {
        // [ceil(n/2), 2] takes half the rows plus two per feature (and the odd halves): over half the bytes.
        var model = Uniform();
        var s = new QrMethod().Solve(model, model.FullWeightBytes / 2);
        Assert.Equal("3", Param(s, "collisions"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(0.25)]
    [InlineData(1.0 / 64)]
    [InlineData(1.0 / 1000)]
    public void Ue_EveryFeatureSharesOneTableThatFillsTheBudget(double budget)
    {
        var model = Uniform();
        long budgetBytes = (long)(budget * model.FullWeightBytes);
        var s = new UeMethod().Solve(model, budgetBytes);
        Assert.True(s.Reachable, s.Reason);
        var plan = model.Plan(s.TablesYaml, null);
        var table = Assert.IsType<UnifiedTablePlan>(Assert.Single(plan.Tables));
        Assert.Equal(model.Sparse.Select(f => f.Name), table.Features.Select(f => f.Name));
        Assert.True(plan.Total.WeightBytes <= budgetBytes);
        Assert.True(plan.Total.WeightBytes + RowBytes(model) > budgetBytes, "one more row would still fit");
        Assert.Equal(table.Buckets.ToString(System.Globalization.CultureInfo.InvariantCulture), Param(s, "buckets"));
    }

    [Theory]
    [InlineData("hash", 0.5)]
    [InlineData("hash", 1.0 / 64)]
    [InlineData("multihash", 0.5)]
    [InlineData("multihash", 1.0 / 64)]
    [InlineData("qr", 0.5)]
    [InlineData("qr", 1.0 / 64)]
    [InlineData("ue", 0.5)]
    [InlineData("ue", 1.0 / 64)]
    [InlineData("ue2", 1.0 / 16)]
    public void BelowTheWholeBudget_EveryFeatureIsCompressed(string method, double budget)
    {
        var model = Uniform();
        long budgetBytes = (long)(budget * model.FullWeightBytes);
        var s = CompressionMethods.Get(method).Solve(model, budgetBytes);
        Assert.True(s.Reachable, s.Reason);
        var plan = model.Plan(s.TablesYaml, null);
        foreach (var f in model.Sparse)
        {
            var table = plan.TableOf(f.Name);
            Assert.NotEqual("full", table.Family);
            Assert.IsNotType<FullTablePlan>(table);
        }
        // The cap policy at the same budget keeps full tables for the small features: the policies really differ.
        var cap = CompressionMethods.Get(method).Solve(BudgetSolverTests.Model(), budgetBytes);
        Assert.Contains(model.Sparse, f => cap.TablesYaml.Contains($"t_{f.Name}, features: [{f.Name}], family: full", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("full", 1)]
    [InlineData("md", 0.25)]
    [InlineData("md", 1.0 / 64)]
    [InlineData("lp", 0.25)]
    [InlineData("tt", 1.0 / 16)]
    [InlineData("robe", 1.0 / 16)]
    public void OtherMethods_IgnoreThePolicy(string method, double budget)
    {
        var cap = BudgetSolverTests.Model();
        long budgetBytes = (long)(budget * cap.FullWeightBytes);
        var a = CompressionMethods.Get(method).Solve(cap, budgetBytes);
        var b = CompressionMethods.Get(method).Solve(Uniform(), budgetBytes);
        Assert.Equal(a.TablesYaml, b.TablesYaml);
        Assert.Equal(a.ParameterText, b.ParameterText);
        Assert.Equal(a.MemoryBudget, b.MemoryBudget);
        Assert.Contains("does not apply", ReportWriter.MethodDescription(method, SuitePolicy.Uniform));
    }

    [Fact]
    public void CapIsTheDefault_AndTheDescriptionsNameThePolicy()
    {
        var options = new SuiteOptions { Data = "synth:criteo:1000", Methods = ["hash"], Budgets = [1], OutDir = "unused" };
        Assert.Equal(SuitePolicy.Cap, options.Policy);
        Assert.Contains("\npolicy=cap\n", options.Identity());
        Assert.Contains("\npolicy=uniform\n", (options with { Policy = SuitePolicy.Uniform }).Identity());
        foreach (var m in SuitePolicies.Methods)
        {
            Assert.Contains("uniform policy", ReportWriter.MethodDescription(m, SuitePolicy.Uniform));
            Assert.Contains("cap policy", ReportWriter.MethodDescription(m, SuitePolicy.Cap));
        }
    }

    [Fact]
    public void RunFromBeforeThePolicy_ResumesAsCapAndRefusesUniform()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"suite-legacy-{Guid.NewGuid():N}");
        var options = new SuiteOptions { Data = "synth:criteo:1000", Methods = ["hash"], Budgets = [1], OutDir = dir };
        try
        {
            // run.txt as written before --policy existed: the identity without its policy (and later qr_combine) lines.
            Directory.CreateDirectory(Path.Combine(dir, "cells"));
            string legacy = options.Identity()[..options.Identity().IndexOf("\npolicy=", StringComparison.Ordinal)];
            File.WriteAllText(Path.Combine(dir, "run.txt"), legacy);

            var e = Assert.Throws<SuiteInputException>(() => RunFolder.Open(options with { Policy = SuitePolicy.Uniform }));
            Assert.Equal("--out", e.Field);
            Assert.Contains("policy=cap -> policy=uniform", e.Message);
            Assert.Equal(legacy, File.ReadAllText(Path.Combine(dir, "run.txt")));

            RunFolder.Open(options); // the same (cap) run: resumes, and run.txt now says so
            Assert.EndsWith("\npolicy=cap\nqr_combine=mult", File.ReadAllText(Path.Combine(dir, "run.txt")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>
/// A tiny run through the CLI with --policy uniform: it completes, results.csv, run.txt, summary.md and report.html
/// say which policy, the solved parameters are the uniform ones, and resuming the folder under the cap policy is refused.
/// </summary>
[Collection(nameof(TinySuiteCollection))]
public sealed class UniformPolicyRunTests
{
    [Fact]
    public void CliRunWithUniformPolicy_CompletesAndRecordsThePolicy()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"suite-uniform-{Guid.NewGuid():N}");
        try
        {
            string[] args =
            [
                "bench", "compression", "--data", "synth:criteo:1500", "--methods", "hash,qr,ue,lp", "--budgets", "1/4", "--policy", "uniform",
                "--out", dir, "--bottom-mlp", "4", "--top-mlp", "4", "--batch-size", "500", "--threads", "1", "--latency-requests", "10",
            ];
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            Assert.True(Program.Run(args, stdout, stderr) == 0, stderr.ToString());
            Assert.Contains("compression suite complete", stdout.ToString());

            var frame = DataFrame.LoadCsv(Path.Combine(dir, "results.csv"));
            Assert.Equal(4, frame.Rows.Count);
            foreach (var row in frame.Rows)
            {
                string method = (string)row["method"];
                Assert.Equal("uniform", (string)row["policy"]);
                Assert.Equal("ok", (string)row["status"]);
                Assert.True(Convert.ToInt64(row["weight_bytes"]) <= Convert.ToInt64(row["budget_bytes"]));
                if (method == "lp") Assert.DoesNotContain("policy=", (string)row["parameters"]);
                else Assert.StartsWith("policy=uniform; ", (string)row["parameters"]);
            }
            Assert.EndsWith("\npolicy=uniform\nqr_combine=mult", File.ReadAllText(Path.Combine(dir, "run.txt")));
            Assert.Contains("Budget policy (--policy): uniform", File.ReadAllText(Path.Combine(dir, "summary.md")));
            string report = File.ReadAllText(Path.Combine(dir, "report.html"));
            Assert.Contains("hashing trick, uniform policy", report);
            Assert.Contains("policy=uniform", report);

            // The same folder under the default (cap) policy is another run.
            var capArgs = args.ToList();
            capArgs.RemoveRange(capArgs.IndexOf("--policy"), 2);
            var again = new StringWriter();
            int code = Program.Run(capArgs.ToArray(), new StringWriter(), again);
            Assert.Equal(Program.UsageError, code);
            Assert.Contains("error: --out:", again.ToString());
            Assert.Contains("policy=uniform -> policy=cap", again.ToString());
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>
/// --policy threshold (the DLRM reference's --qr-threshold 200) on the same cardinalities: features with at most 200
/// ids keep full tables, every larger one is compressed with one factor as under uniform, in what the small ones
/// leave of the budget; the counts come from the planner.
/// </summary>
public sealed class ThresholdPolicySolverTests
{
    private static SuiteModel Threshold()
    {
        var m = BudgetSolverTests.Model();
        return new SuiteModel(m.Options with { Policy = SuitePolicy.Threshold }, m.DenseFeatures, m.Sparse);
    }

    private static string Param(MethodSolution s, string key) => s.Parameters.Single(p => p.Key == key).Value;

    [Fact]
    public void The_model_has_features_on_both_sides_of_the_threshold()
    {
        var model = Threshold();
        Assert.Contains(model.Sparse, f => f.Cardinality <= SuitePolicies.ThresholdIds);
        Assert.Contains(model.Sparse, f => f.Cardinality > SuitePolicies.ThresholdIds);
    }

    [Theory]
    [InlineData("hash", 0.25)]
    [InlineData("hash", 1.0 / 16)]
    [InlineData("multihash", 1.0 / 16)]
    [InlineData("qr", 0.25)]
    [InlineData("qr", 1.0 / 16)]
    [InlineData("ue", 1.0 / 16)]
    [InlineData("ue", 1.0 / 64)]
    [InlineData("ue2", 1.0 / 16)]
    public void Small_features_keep_full_tables_and_every_larger_one_is_compressed_within_the_budget(string method, double budget)
    {
        var model = Threshold();
        long budgetBytes = (long)(budget * model.FullWeightBytes);
        var s = CompressionMethods.Get(method).Solve(model, budgetBytes);
        Assert.True(s.Reachable, s.Reason);
        Assert.Equal("threshold", Param(s, "policy"));
        var plan = model.Plan(s.TablesYaml, null);
        Assert.Equal(plan.Total.WeightBytes, s.WeightBytes);
        Assert.True(plan.Total.WeightBytes <= budgetBytes, $"{plan.Total.WeightBytes} > {budgetBytes}");
        foreach (var f in model.Sparse)
        {
            var table = plan.TableOf(f.Name);
            if (f.Cardinality <= SuitePolicies.ThresholdIds) Assert.IsType<FullTablePlan>(table);
            else Assert.NotEqual("full", table.Family);
        }
    }

    [Fact]
    public void Hash_uses_one_factor_for_the_large_features_and_a_finer_one_does_not_fit()
    {
        var model = Threshold();
        long budgetBytes = model.FullWeightBytes / 16;
        var s = new HashMethod(1).Solve(model, budgetBytes);
        var plan = model.Plan(s.TablesYaml, null);
        var large = model.Sparse.Where(f => f.Cardinality > SuitePolicies.ThresholdIds).ToArray();
        var n = large.Select(f => f.Cardinality).ToArray();
        var b = large.Select(f => Assert.IsType<HashTablePlan>(plan.TableOf(f.Name)).Buckets).ToArray();
        int g = 0;
        for (int f = 1; f < n.Length; f++)
            if ((Int128)n[f] * b[g] > (Int128)n[g] * b[f]) g = f;
        for (int f = 0; f < n.Length; f++) Assert.Equal((long)(((Int128)n[f] * b[g] + n[g] - 1) / n[g]), b[f]); // ceil(n_f / c), c = n_g / b_g
        long smallRows = model.Sparse.Where(f => f.Cardinality <= SuitePolicies.ThresholdIds).Sum(f => f.Cardinality);
        long finer = n.Select((x, f) => (Int128)x * b[g] == (Int128)n[g] * b[f] ? b[f] + 1 : b[f]).Sum();
        Assert.True((finer + smallRows) * model.Dim * sizeof(float) > budgetBytes, "a finer factor would still fit");
    }

    [Fact]
    public void Qr_uses_one_collision_factor_for_the_large_features_and_a_finer_one_does_not_fit()
    {
        var model = Threshold();
        long budgetBytes = model.FullWeightBytes / 16;
        var s = new QrMethod().Solve(model, budgetBytes);
        long c = long.Parse(Param(s, "collisions"));
        var plan = model.Plan(s.TablesYaml, null);
        foreach (var f in model.Sparse.Where(f => f.Cardinality > SuitePolicies.ThresholdIds))
        {
            long k = Math.Min(c, f.Cardinality);
            Assert.Equal(new[] { (f.Cardinality + k - 1) / k, k }, Assert.IsType<QrTablePlan>(plan.TableOf(f.Name)).Radices);
        }
        Assert.True(c > 2);
        string finer = model.PerFeatureTables(f => f.Cardinality <= SuitePolicies.ThresholdIds ? "family: full" : $"family: qr, collisions: {Math.Min(c - 1, f.Cardinality)}, combine: mult");
        Assert.True(model.Plan(finer, null).Total.WeightBytes > budgetBytes, $"collision factor {c - 1} would fit");
    }

    [Fact]
    public void Ue_multiplexes_the_large_features_into_one_table_that_fills_the_rest_of_the_budget()
    {
        var model = Threshold();
        long budgetBytes = model.FullWeightBytes / 16;
        var s = new UeMethod().Solve(model, budgetBytes);
        var plan = model.Plan(s.TablesYaml, null);
        var shared = Assert.Single(plan.Tables.OfType<UnifiedTablePlan>());
        Assert.Equal(model.Sparse.Where(f => f.Cardinality > SuitePolicies.ThresholdIds).Select(f => f.Name), shared.Features.Select(f => f.Name));
        Assert.True(plan.Total.WeightBytes + model.Dim * sizeof(float) > budgetBytes, "one more shared row would still fit");
    }

    [Fact]
    public void The_policy_is_parsed_named_described_and_part_of_the_run_identity()
    {
        Assert.Equal(SuitePolicy.Threshold, SuitePolicies.Parse("threshold"));
        Assert.Equal("threshold", SuitePolicy.Threshold.Name());
        var e = Assert.Throws<SuiteInputException>(() => SuitePolicies.Parse("thresh"));
        Assert.Equal("--policy", e.Field);
        Assert.Contains("cap or uniform or threshold", e.Message);
        var options = new SuiteOptions { Data = "synth:criteo:1000", Methods = ["hash"], Budgets = [1], OutDir = "unused", Policy = SuitePolicy.Threshold };
        Assert.Contains("\npolicy=threshold\n", options.Identity());
        foreach (var m in SuitePolicies.Methods) Assert.Contains("threshold policy", ReportWriter.MethodDescription(m, SuitePolicy.Threshold));
        Assert.Contains("does not apply", ReportWriter.MethodDescription("md", SuitePolicy.Threshold));
    }
}
