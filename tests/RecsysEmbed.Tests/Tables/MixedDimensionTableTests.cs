using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// Mixed dimensions: one projected block, one full-width block, a hot block with a projected tail, and hot ids from a rank index.
/// Checked against the torch rebuild of <see cref="TableCases"/> with the table's own row mapping.
/// </summary>
public sealed class MixedDimensionTableTests
{
    public static TheoryData<string, PoolingMode, bool> Pooled => AutogradChecks.PoolingMatrix("md-proj", "md-noproj", "md-hot-tail", "md-hot-ranks");

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
    [InlineData("md-proj")]
    [InlineData("md-noproj")]
    [InlineData("md-hot-tail")]
    [InlineData("md-hot-ranks")]
    public void Lookup_MatchesAutograd(string variant) => AutogradChecks.Lookup(variant);

    [Theory]
    [InlineData("md-hot-tail")]
    [InlineData("md-proj")]
    public void Backward_MatchesFiniteDifferences(string variant) => AutogradChecks.FiniteDifference(variant);
}
