using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// TT-Rec tables (three cores, ranks 3 and 1) against the torch rebuild of <see cref="TableCases"/>: the
/// per-id vectors come from the table's own row mapping, pooled and differentiated by torch in float64.
/// </summary>
public sealed class TensorTrainTableTests
{
    public static TheoryData<string, PoolingMode, bool> Pooled => AutogradChecks.PoolingMatrix("tt", "tt-rank1");

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
    [InlineData("tt")]
    [InlineData("tt-rank1")]
    public void Lookup_MatchesAutograd(string variant) => AutogradChecks.Lookup(variant);

    [Theory]
    [InlineData("tt")]
    [InlineData("tt-rank1")]
    public void Backward_MatchesFiniteDifferences(string variant) => AutogradChecks.FiniteDifference(variant);
}
