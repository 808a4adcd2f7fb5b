using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// A full table: id i is row i.
/// Checked against the torch rebuild of <see cref="TableCases"/> with the table's own row mapping.
/// </summary>
public sealed class FullTableTests
{
    public static TheoryData<string, PoolingMode, bool> Pooled => AutogradChecks.PoolingMatrix("full");

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
    [InlineData("full")]
    public void Lookup_MatchesAutograd(string variant) => AutogradChecks.Lookup(variant);
}
