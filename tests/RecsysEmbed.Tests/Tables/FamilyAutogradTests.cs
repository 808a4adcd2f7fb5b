using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// Every table family and variant against the torch rebuild of <see cref="TableCases"/>: the per-id vectors come
/// from the table's own row mapping, and torch pools and differentiates them in float64. Family-specific
/// behaviour is tested in the family's own file.
/// </summary>
public sealed class FamilyAutogradTests
{
    public static readonly string[] Variants = ["full", "hash-k1", "hash-k2-sum", "hash-k2-concat", "md-proj", "md-noproj", "md-hot-tail", "md-hot-ranks", "md-hashed-tail", "qr-add", "qr-mult", "qr-concat", "qr-3way-mult", "qr-3way-concat", "robe-z4", "robe-z1", "tt", "tt-rank1", "ue"];

    /// <summary>Variants whose gradient is also checked against central finite differences.</summary>
    public static readonly string[] FiniteDifferenceVariants = ["md-hot-tail", "md-hashed-tail", "md-proj", "qr-mult", "qr-3way-mult", "qr-add", "robe-z4", "robe-z1", "tt", "tt-rank1"];

    public static TheoryData<string, PoolingMode, bool> Pooled => AutogradChecks.PoolingMatrix(Variants);
    public static TheoryData<string> Each => new(Variants);
    public static TheoryData<string> EachFiniteDifference => new(FiniteDifferenceVariants);

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
    [MemberData(nameof(Each))]
    public void Lookup_MatchesAutograd(string variant) => AutogradChecks.Lookup(variant);

    [Theory]
    [MemberData(nameof(EachFiniteDifference))]
    public void Backward_MatchesFiniteDifferences(string variant) => AutogradChecks.FiniteDifference(variant);
}
