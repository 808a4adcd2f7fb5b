using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// The hashing trick (k = 1) and multi-hash (k = 2, rows summed or concatenated).
/// Checked against the torch rebuild of <see cref="TableCases"/> with the table's own row mapping.
/// </summary>
public sealed class HashedTableTests
{
    public static TheoryData<string, PoolingMode, bool> Pooled => AutogradChecks.PoolingMatrix("hash-k1", "hash-k2-sum", "hash-k2-concat");

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
    [InlineData("hash-k1")]
    [InlineData("hash-k2-sum")]
    [InlineData("hash-k2-concat")]
    public void Lookup_MatchesAutograd(string variant) => AutogradChecks.Lookup(variant);
}
