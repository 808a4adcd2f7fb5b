namespace RecsysEmbed.Core.Tables.Addressing;

/// <summary><see cref="FullTable"/>: id i is row i of the one matrix; ids outside [0, Rows) are refused.</summary>
public sealed class FullAddressing(string tableName, IReadOnlyList<FeatureSlot> features, long rows, int dim)
    : RowAddressingBase(tableName, "full", features, [new MatrixShape(tableName, rows, dim)])
{
    public override int MaxRowsPerId(int feature) => 1;

    public override int Resolve(int feature, long id, Span<PhysicalRow> rows)
    {
        Slot(feature);
        if ((ulong)id >= (ulong)Matrices[0].Rows) ThrowHelper.IdOutOfRange(nameof(id), id, Matrices[0].Rows, 0);
        CheckRoom(nameof(rows), 1, rows.Length);
        rows[0] = new PhysicalRow(0, id);
        return 1;
    }

    public override void Combine(int feature, ReadOnlySpan<PhysicalRow> rows, ReadOnlySpan<float> values, Span<float> output)
    {
        int dim = Slot(feature).OutputDim;
        values[..dim].CopyTo(output);
    }
}
