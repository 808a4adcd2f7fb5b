using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// Two-way quotient-remainder (add, multiply, concat) and a three-way mixed-radix split.
/// Checked against the torch rebuild of <see cref="TableCases"/> with the table's own row mapping.
/// </summary>
public sealed class QuotientRemainderTableTests
{
    public static TheoryData<string, PoolingMode, bool> Pooled => AutogradChecks.PoolingMatrix("qr-add", "qr-mult", "qr-concat", "qr-3way-mult", "qr-3way-concat");

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
    [InlineData("qr-add")]
    [InlineData("qr-mult")]
    [InlineData("qr-concat")]
    [InlineData("qr-3way-mult")]
    [InlineData("qr-3way-concat")]
    public void Lookup_MatchesAutograd(string variant) => AutogradChecks.Lookup(variant);

    [Theory]
    [InlineData("qr-mult")]
    [InlineData("qr-3way-mult")]
    [InlineData("qr-add")]
    public void Backward_MatchesFiniteDifferences(string variant) => AutogradChecks.FiniteDifference(variant);
}
