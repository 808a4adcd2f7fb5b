using System.IO.Hashing;
using System.Text;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Kernels;

namespace RecsysEmbed.Core.Tables.Addressing;

/// <summary>
/// <see cref="UnifiedTable"/>: feature f's id reads one bucket per chunk of the shared matrix, each chunk hashed with a
/// seed derived from the feature's name, and concatenates them.
/// </summary>
public sealed class UnifiedAddressing : RowAddressingBase
{
    private readonly HashMap[][] _hashes; // [feature][chunk]

    public UnifiedAddressing(string tableName, IReadOnlyList<FeatureSlot> features, IReadOnlyList<int> chunks, long buckets, int dim, ulong seed)
        : base(tableName, "ue", features, [new MatrixShape(tableName, buckets, dim)])
    {
        _hashes = new HashMap[features.Count][];
        for (int f = 0; f < features.Count; f++)
        {
            if (chunks[f] < 1) ThrowHelper.OutOfRange(nameof(chunks), chunks[f], $"feature '{features[f].Name}' needs at least one chunk.");
            ulong featureSeed = XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(features[f].Name), (long)seed);
            _hashes[f] = new HashMap[chunks[f]];
            for (int j = 0; j < chunks[f]; j++) _hashes[f][j] = new HashMap(BucketHash.DeriveSeed(featureSeed, j), buckets);
        }
    }

    public override int MaxRowsPerId(int feature) => _hashes[feature].Length;

    public override int Resolve(int feature, long id, Span<PhysicalRow> rows)
    {
        Slot(feature);
        CheckNonNegative(id);
        var hashes = _hashes[feature];
        CheckRoom(nameof(rows), hashes.Length, rows.Length);
        for (int j = 0; j < hashes.Length; j++) rows[j] = new PhysicalRow(0, hashes[j].Map(id));
        return hashes.Length;
    }

    public override void Combine(int feature, ReadOnlySpan<PhysicalRow> rows, ReadOnlySpan<float> values, Span<float> output) =>
        values[..(rows.Length * Matrices[0].Dim)].CopyTo(output);
}
