using System.Numerics.Tensors;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Kernels;

namespace RecsysEmbed.Core.Tables.Addressing;

/// <summary>
/// <see cref="QuotientRemainderTable"/>: id reads one row per partition, digit j of its mixed-radix form (ids at or
/// above the cardinality hashed into it first), combined by add, element-wise multiply or concat.
/// </summary>
public sealed unsafe class QuotientRemainderAddressing : RowAddressingBase
{
    private readonly RadixDigitMap[] _digits;
    private readonly QrCombine _combine;
    private readonly int _dim;

    public QuotientRemainderAddressing(string tableName, IReadOnlyList<FeatureSlot> features, long cardinality, int dim,
                                       IReadOnlyList<long> radices, QrCombine combine, ulong seed)
        : base(tableName, "qr", features, radices.Select((r, j) => new MatrixShape($"{tableName}.p{j}", r, dim)).ToArray())
    {
        if (radices.Count < 2) ThrowHelper.Argument(nameof(radices), $"table '{tableName}': a compositional table needs at least 2 partitions, got {radices.Count}.");
        _combine = combine;
        _dim = dim;
        _digits = new RadixDigitMap[radices.Count];
        ulong overflowSeed = BucketHash.DeriveSeed(seed, 1000);
        long divisor = 1;
        for (int j = 0; j < radices.Count; j++)
        {
            _digits[j] = new RadixDigitMap(cardinality, divisor, radices[j], overflowSeed);
            divisor = radices[j] > 0 && divisor > long.MaxValue / radices[j] ? long.MaxValue : divisor * radices[j];
        }
    }

    public override int MaxRowsPerId(int feature) => _digits.Length;

    public override int Resolve(int feature, long id, Span<PhysicalRow> rows)
    {
        Slot(feature);
        CheckNonNegative(id);
        CheckRoom(nameof(rows), _digits.Length, rows.Length);
        for (int j = 0; j < _digits.Length; j++) rows[j] = new PhysicalRow(j, _digits[j].Map(id));
        return _digits.Length;
    }

    public override void Combine(int feature, ReadOnlySpan<PhysicalRow> rows, ReadOnlySpan<float> values, Span<float> output)
    {
        int dim = _dim;
        switch (_combine)
        {
            case QrCombine.Concat:
                values[..(rows.Length * dim)].CopyTo(output);
                return;
            case QrCombine.Add:
            {
                var sum = output[..dim];
                values[..dim].CopyTo(sum);
                for (int j = 1; j < rows.Length; j++) TensorPrimitives.Add(sum, values.Slice(j * dim, dim), sum);
                return;
            }
            default:
            {
                // As the table: product from 1, then pooled into a cleared vector with scale 1.
                Span<float> product = dim <= 256 ? stackalloc float[dim] : new float[dim];
                product.Fill(1f);
                for (int j = 0; j < rows.Length; j++) TensorPrimitives.Multiply(product, values.Slice(j * dim, dim), product);
                var dst = output[..dim];
                dst.Clear();
                fixed (float* p = product)
                fixed (float* d = dst)
                    AxpyKernel.Axpy(1f, p, d, dim);
                return;
            }
        }
    }
}
