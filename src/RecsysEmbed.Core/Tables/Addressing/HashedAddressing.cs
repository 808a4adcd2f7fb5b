using System.Numerics.Tensors;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Kernels;

namespace RecsysEmbed.Core.Tables.Addressing;

/// <summary>
/// <see cref="HashedTable"/>: id reads rows h_1(id) .. h_k(id) of the one Buckets x Dim matrix (hash j seeded with
/// DeriveSeed(seed, j)), added (sum) or concatenated (concat).
/// </summary>
public sealed class HashedAddressing : RowAddressingBase
{
    private readonly HashMap[] _hashes;
    private readonly HashCombine _combine;

    public HashedAddressing(string tableName, IReadOnlyList<FeatureSlot> features, long buckets, int dim, int hashCount, HashCombine combine, ulong seed)
        : base(tableName, "hash", features, [new MatrixShape(tableName, buckets, dim)])
    {
        if (hashCount < 1) ThrowHelper.OutOfRange(nameof(hashCount), hashCount, $"table '{tableName}' needs at least one hash function.");
        _combine = combine;
        _hashes = new HashMap[hashCount];
        for (int j = 0; j < hashCount; j++) _hashes[j] = new HashMap(BucketHash.DeriveSeed(seed, j), buckets);
    }

    public override int MaxRowsPerId(int feature) => _hashes.Length;

    public override int Resolve(int feature, long id, Span<PhysicalRow> rows)
    {
        Slot(feature);
        CheckNonNegative(id);
        CheckRoom(nameof(rows), _hashes.Length, rows.Length);
        for (int j = 0; j < _hashes.Length; j++) rows[j] = new PhysicalRow(0, _hashes[j].Map(id));
        return _hashes.Length;
    }

    public override void Combine(int feature, ReadOnlySpan<PhysicalRow> rows, ReadOnlySpan<float> values, Span<float> output)
    {
        int dim = Matrices[0].Dim;
        if (_combine == HashCombine.Concat)
        {
            values[..(rows.Length * dim)].CopyTo(output);
            return;
        }
        var sum = output[..dim];
        values[..dim].CopyTo(sum);
        for (int j = 1; j < rows.Length; j++) TensorPrimitives.Add(sum, values.Slice(j * dim, dim), sum);
    }
}
