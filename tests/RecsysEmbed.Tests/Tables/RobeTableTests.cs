using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// ROBE-Z tables (blocks of 4 that wrap around the array end, and blocks of 1) against the torch rebuild of <see cref="TableCases"/>: the
/// per-id vectors come from the table's own row mapping, pooled and differentiated by torch in float64.
/// </summary>
public sealed class RobeTableTests
{
    public static TheoryData<string, PoolingMode, bool> Pooled => AutogradChecks.PoolingMatrix("robe-z4", "robe-z1");

    [Theory]
    [MemberData(nameof(Pooled))]
    public void Forward_MatchesAutograd(string variant, PoolingMode pooling, bool weighted) =>
        AutogradChecks.Forward(variant, pooling, weighted);

    [Theory]
    [MemberData(nameof(Pooled))]
    public void Backward_SgdStepMatchesAutogradGradient(string variant, PoolingMode pooling, bool weighted) =>
        AutogradChecks.BackwardSgd(variant, pooling, weighted);

    [Theory]
    [MemberData(nameof(Pooled))]
    public void Backward_RowWiseAdagradAppliesSummedGradientOnce(string variant, PoolingMode pooling, bool weighted) =>
        AutogradChecks.BackwardRowWiseAdagrad(variant, pooling, weighted);

    [Theory]
    [InlineData("robe-z4")]
    [InlineData("robe-z1")]
    public void Lookup_MatchesAutograd(string variant) => AutogradChecks.Lookup(variant);

    [Theory]
    [InlineData("robe-z4")]
    [InlineData("robe-z1")]
    public void Backward_MatchesFiniteDifferences(string variant) => AutogradChecks.FiniteDifference(variant);
}
