using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Data.Synthetic;
using Xunit;

namespace RecsysEmbed.Tests.Data;

/// <summary>The planted model's signal shrinkage, interaction groups and inverse value permutation.</summary>
public class PlantedModelStructureTests
{
    [Theory]
    [InlineData(1_000L, 1.05)]
    [InlineData(5_000_000L, 1.2)]
    [InlineData(24L, 0.0)]
    public void Shrinkage_HasUnitMeanSquareUnderZipfAndFallsWithRank(long cardinality, double exponent)
    {
        var shrink = SignalShrinkage.Create(cardinality, exponent, halfCount: 50, referenceRows: 1e6);
        // Monte Carlo over the same Zipf law the generator samples from: E[s^2] must be 1 (variance budget kept).
        var sampler = new ZipfSampler(cardinality, exponent == 0 ? 1e-9 : exponent);
        var rng = new SplitMix64(7);
        double sum = 0;
        const int Draws = 400_000;
        for (int i = 0; i < Draws; i++)
        {
            double s = shrink.Scale(sampler.Sample(ref rng) - 1);
            sum += s * s;
        }
        Assert.InRange(sum / Draws, 0.97, 1.03);
        for (long k = 1; k < Math.Min(cardinality, 200_000); k = k * 3 + 1)
            Assert.True(shrink.Scale(k) <= shrink.Scale(k - 1) + 1e-12, $"s({k}) > s({k - 1})");
    }

    [Fact]
    public void Shrinkage_IsContinuousAcrossTheTabulatedHead()
    {
        var shrink = SignalShrinkage.Create(10_000_000, 1.1, 50, 1e6);
        double last = shrink.Scale((1 << 16) - 1), first = shrink.Scale(1 << 16);
        Assert.InRange(first / last, 0.999, 1.0);
    }

    [Fact]
    public void ZeroHalfCount_TurnsShrinkageOff() =>
        Assert.Equal(1.0, SignalShrinkage.Create(1000, 1.1, 0, 1e6).Scale(999));

    [Fact]
    public void Groups_AreBalancedAndPairTermMatchesTheBruteForceSum()
    {
        var generator = new SyntheticCtrGenerator(new SyntheticOptions { Rows = 10, Seed = 3, InteractionGroups = 4, CrossGroupStrength = 0.25 });
        var model = generator.Model;
        int features = model.Categorical.Count, k = model.LatentDim;
        var sizes = Enumerable.Range(0, 4).Select(g => Enumerable.Range(0, features).Count(f => model.InteractionGroup(f) == g)).ToArray();
        Assert.True(sizes.Max() - sizes.Min() <= 1, string.Join(",", sizes));

        var rng = new Random(5);
        for (int trial = 0; trial < 20; trial++)
        {
            var raws = Enumerable.Range(0, features).Select(_ => (uint)rng.Next()).ToArray();
            var ranks = Enumerable.Range(0, features).Select(f => (long)rng.Next((int)Math.Min(model.Categorical[f].Cardinality, 100_000))).ToArray();
            // each feature's latent vector on its own: add it alone into zeroed sums and read its group's slice
            var vectors = new double[features][];
            for (int f = 0; f < features; f++)
            {
                var one = new double[model.SumsLength];
                double ignored = 0;
                model.AddValue(f, raws[f], ranks[f], 1, 0, ref ignored, one);
                vectors[f] = one.AsSpan(model.InteractionGroup(f) * k, k).ToArray();
            }
            double brute = 0;
            for (int f = 0; f < features; f++)
                for (int g = f + 1; g < features; g++)
                {
                    double dot = 0;
                    for (int j = 0; j < k; j++) dot += vectors[f][j] * vectors[g][j];
                    brute += model.PairWeight(f, g) * dot;
                }
            var sums = new double[model.SumsLength];
            double logit = 0;
            for (int f = 0; f < features; f++) model.AddValue(f, raws[f], ranks[f], 1, 0, ref logit, sums);
            Assert.Equal(model.PairScale * brute, model.PairTerm(sums), 9);
        }
    }

    [Theory]
    [InlineData(SyntheticSchemaKind.Criteo)]
    [InlineData(SyntheticSchemaKind.Avazu)]
    public void ValueIndex_InvertsRawValue(SyntheticSchemaKind schema)
    {
        var model = new SyntheticCtrGenerator(new SyntheticOptions { Schema = schema, Rows = 10, Seed = 11 }).Model;
        var rng = new Random(1);
        for (int f = 0; f < model.Categorical.Count; f++)
        {
            if (model.Categorical[f].Format == RawValueFormat.Derived) continue;
            for (int i = 0; i < 200; i++)
            {
                long idx = rng.NextInt64(model.Categorical[f].Cardinality);
                Assert.Equal(idx, model.ValueIndex(f, model.RawValue(f, idx)));
            }
        }
    }

    [Fact]
    public void HeldOutBestAuc_IsTheExactAucOfTheTailRows()
    {
        var result = new SyntheticCtrGenerator(new SyntheticOptions { Rows = 4000, Seed = 8, HeldOutRows = 1000, KeepProbabilities = true, ChunkRows = 512 })
            .Generate(Stream.Null);
        var p = result.Probabilities!;
        var y = result.Labels!;
        // naive pair count over the tail
        double wins = 0;
        long pos = 0, neg = 0;
        for (int i = 3000; i < 4000; i++)
        {
            if (y[i] == 0) { neg++; continue; }
            pos++;
            for (int j = 3000; j < 4000; j++)
                if (y[j] == 0) wins += p[i] > p[j] ? 1 : p[i] == p[j] ? 0.5 : 0;
        }
        Assert.Equal(wins / (pos * (double)neg), result.BestHeldOutAuc, 12);
        Assert.NotEqual(result.BestAuc, result.BestHeldOutAuc);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SyntheticCtrGenerator(new SyntheticOptions { Rows = 10, HeldOutRows = 11 }));
    }
}
