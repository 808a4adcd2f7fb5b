using RecsysEmbed.CompressionBench;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.CompressionBench;

/// <summary>
/// Every method's solver on a Criteo-like spread of cardinalities (no data needed): a reachable solution fits its
/// budget by the planner's own count, and is the least compressed that fits (one step less compression would not
/// fit); an unreachable one says why.
/// </summary>
public sealed class BudgetSolverTests
{
    internal static SuiteModel Model()
    {
        long[] cardinalities = [1460, 583, 200_000, 90_000, 305, 24, 12_517, 633, 3, 9_314, 5_683, 150_000, 3_194, 27, 14_992, 80_000, 10, 5_652, 2_173, 4, 70_000, 18, 15, 28_618, 105, 14_257];
        var options = new SuiteOptions { Data = "synth:criteo:1000", Methods = ["full"], Budgets = [1], OutDir = "unused" };
        return new SuiteModel(options, Enumerable.Range(1, 13).Select(i => $"I{i}").ToArray(),
                              cardinalities.Select((n, i) => new SuiteFeature($"C{i + 1}", n)).ToArray());
    }

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
        var model = Model();
        long budgetBytes = (long)(budget * model.FullWeightBytes);
        var solution = CompressionMethods.Get(method).Solve(model, budgetBytes);
        if (!solution.Reachable)
        {
            Assert.False(string.IsNullOrWhiteSpace(solution.Reason));
            return;
        }
        long planned = model.Plan(solution.TablesYaml, solution.MemoryBudget).Total.WeightBytes;
        Assert.Equal(planned, solution.WeightBytes);
        Assert.True(planned <= budgetBytes, $"{method} at {budget}: {planned} bytes > budget {budgetBytes}");
        Assert.NotEmpty(solution.Parameters);
    }

    [Theory]
    [InlineData(0.25)]
    [InlineData(1.0 / 16)]
    [InlineData(1.0 / 64)]
    public void Ue2_SpendsUesBytesOnTwiceTheRowsOfHalfTheWidth_AndEveryFeatureKeepsTheModelsWidth(double budget)
    {
        var model = Model();
        long budgetBytes = (long)(budget * model.FullWeightBytes);
        var one = new UeMethod().Solve(model, budgetBytes);
        var two = new UeMethod(probes: 2).Solve(model, budgetBytes);
        Assert.True(two.Reachable, two.Reason);
        Assert.Equal("ue2", new UeMethod(probes: 2).Name);
        Assert.Equal(one.WeightBytes, two.WeightBytes);
        var planOne = model.Plan(one.TablesYaml, null);
        var planTwo = model.Plan(two.TablesYaml, null);
        Assert.Equal(planOne.Total.WeightBytes, planTwo.Total.WeightBytes);
        var sharedOne = Assert.IsType<RecsysEmbed.Core.Config.Planning.UnifiedTablePlan>(planOne.TableOf("C3"));
        var sharedTwo = Assert.IsType<RecsysEmbed.Core.Config.Planning.UnifiedTablePlan>(planTwo.TableOf("C3"));
        Assert.Equal(2 * sharedOne.Buckets, sharedTwo.Buckets);
        Assert.Equal(model.Dim / 2, Assert.Single(sharedTwo.Matrices).Dim);
        Assert.Equal(sharedOne.Features.Select(f => f.Name), sharedTwo.Features.Select(f => f.Name));
        Assert.All(sharedTwo.Config.Chunks, c => Assert.Equal(2, c));
        foreach (var f in model.Sparse) Assert.Equal(model.Dim, planTwo.TableOf(f.Name).Features.Single(s => s.Name == f.Name).OutputDim);
        Assert.Equal("2", two.Parameters.Single(p => p.Key == "probes").Value);
        Assert.DoesNotContain(one.Parameters, p => p.Key == "probes"); // single-probe outputs read as before
    }

    [Fact]
    public void Ue2_NeedsAnEvenDim()
    {
        var m = Model();
        var odd = new SuiteModel(m.Options with { EmbeddingDim = 15 }, m.DenseFeatures, m.Sparse);
        var s = new UeMethod(probes: 2).Solve(odd, odd.FullWeightBytes / 16);
        Assert.False(s.Reachable);
        Assert.Contains("divisible by 2", s.Reason);
        Assert.True(new UeMethod().Solve(odd, odd.FullWeightBytes / 16).Reachable);
    }

    [Fact]
    public void Full_ReachesOnlyTheWholeBudget()
    {
        var model = Model();
        Assert.True(new FullMethod().Solve(model, model.FullWeightBytes).Reachable);
        var below = new FullMethod().Solve(model, model.FullWeightBytes - 1);
        Assert.False(below.Reachable);
        Assert.Contains("over the budget", below.Reason);
    }

    [Theory]
    [InlineData(0.25)]
    [InlineData(1.0 / 64)]
    public void Hash_BucketCapIsTheLargestThatFits(double budget)
    {
        var model = Model();
        long budgetBytes = (long)(budget * model.FullWeightBytes);
        var s = new HashMethod(1).Solve(model, budgetBytes);
        long cap = long.Parse(s.Parameters.Single(p => p.Key == "bucket_cap").Value);
        long bigger = model.Sparse.Sum(f => Math.Min(f.Cardinality, cap + 1)) * model.Dim * 4;
        Assert.True(bigger > budgetBytes, $"cap {cap} + 1 would still fit ({bigger} <= {budgetBytes})");
    }

    [Fact]
    public void Tt_RankIsTheLargestThatFitsOrTheCap()
    {
        var model = Model();
        long budgetBytes = model.FullWeightBytes / 64;
        var s = new TtMethod().Solve(model, budgetBytes);
        int rank = int.Parse(s.Parameters.Single(p => p.Key == "rank").Value);
        Assert.InRange(rank, 1, TtMethod.MaxRank - 1); // 1/64 of these tables must not allow the cap
        // Rank + 1 under the same rule (TT where it is smaller than the full table) would not fit.
        long next = model.Sparse.Sum(f => Math.Min(TensorTrainTable.WeightCountOf(f.Cardinality, model.Dim, rank + 1), f.Cardinality * model.Dim)) * 4;
        Assert.True(next > budgetBytes, $"rank {rank + 1} would take {next} <= {budgetBytes}");
    }

    [Fact]
    public void Md_TinyBudgetIsUnreachableWithAReason()
    {
        var model = Model();
        // Under 2 full rows per feature: not even a hot row, the tail projection and one bucket fit.
        var s = new MdMethod().Solve(model, model.Sparse.Count * model.Dim * 4L);
        Assert.False(s.Reachable);
        Assert.Contains("narrowest power-law widths", s.Reason);
        Assert.Contains("hashed tail", s.Reason);
    }

    [Fact]
    public void Md_UsesPowerLawWhileItFits()
    {
        var model = Model();
        var s = new MdMethod().Solve(model, model.FullWeightBytes / 4);
        Assert.True(s.Reachable);
        Assert.Contains("variant=power_law", s.ParameterText);
    }

    [Theory]
    [InlineData(1.0 / 16)]
    [InlineData(1.0 / 64)]
    [InlineData(1.0 / 1000)]
    public void Md_ReachesSmallBudgetsWithAHashedTailAndTheLargestCapThatFits(double budget)
    {
        var model = Model();
        long budgetBytes = (long)(budget * model.FullWeightBytes);
        // 1-wide rows for every id (the power law's floor, before its projections) already take these budgets.
        Assert.True(model.Sparse.Sum(f => f.Cardinality) * 4 >= budgetBytes);
        var s = new MdMethod().Solve(model, budgetBytes);
        Assert.True(s.Reachable, s.Reason);
        Assert.Contains("variant=hot_hashed_tail", s.ParameterText);
        long cap = long.Parse(s.Parameters.Single(p => p.Key == "bucket_cap").Value);
        var plan = model.Plan(s.TablesYaml, null);
        Assert.True(plan.Total.WeightBytes <= budgetBytes);
        foreach (var f in model.Sparse)
        {
            var table = plan.TableOf(f.Name);
            if (f.Cardinality <= cap)
            {
                Assert.Equal("full", table.Family);
                continue;
            }
            // Capped: exact hot block at full width, hashed narrow tail, within T full rows of bytes.
            var md = Assert.IsType<RecsysEmbed.Core.Config.Planning.MdTablePlan>(table);
            Assert.Equal(2, md.Blocks.Count);
            Assert.Equal(model.Dim, md.Blocks[0].Dim);
            Assert.True(md.Blocks[1].Hashed);
            Assert.True(md.Blocks[1].Dim < model.Dim);
            Assert.InRange(md.Memory.WeightBytes, 1, cap * model.Dim * 4);
        }
        // One more in the cap would be over the budget by the same full-row bound.
        long bigger = model.Sparse.Sum(f => Math.Min(f.Cardinality, cap + 1)) * model.Dim * 4;
        Assert.True(bigger > budgetBytes, $"cap {cap} + 1 would still fit ({bigger} <= {budgetBytes})");
    }

    [Fact]
    public void Lp_PicksFp16ThenInt8ThenHashedInt8AsTheBudgetShrinks()
    {
        var model = Model();
        string Precision(double b) => new LpMethod().Solve(model, (long)(b * model.FullWeightBytes)).ParameterText;
        Assert.Contains("precision=fp16", Precision(0.5));
        Assert.Contains("precision=int8; bucket_cap=none", Precision(0.4));
        Assert.Matches(@"precision=int8; bucket_cap=\d+", Precision(0.1));
    }
}
