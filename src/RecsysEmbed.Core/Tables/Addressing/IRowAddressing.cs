namespace RecsysEmbed.Core.Tables.Addressing;

/// <summary>One physical row of a table: the index of its matrix (in the table's matrix order) and the row in it.</summary>
public readonly record struct PhysicalRow(int Matrix, long Row);

/// <summary>A matrix of a table as addressing sees it: name (as in checkpoints and update records), rows and width.</summary>
public sealed record MatrixShape(string Name, long Rows, int Dim);

/// <summary>
/// How a table of any family turns one id into the physical rows it reads and how it combines them, without the
/// table's memory: a store that holds the rows elsewhere (serving) reads <see cref="Resolve"/>'s rows and hands
/// their values to <see cref="Combine"/>, which returns what the table's own <see cref="IEmbeddingTable.Lookup"/>
/// returns for that id on the same weights.
/// <code>
///   id ──Resolve(f, id)──> rows r_1..r_k  (k &lt;= MaxRowsPerId(f); row i of matrix m_i is Dim(m_i) floats)
///   values = W[m_1][r_1] ++ ... ++ W[m_k][r_k]
///   Combine(f, rows, values) ──> vector of feature f, OutputDim_f floats
/// </code>
/// Pooling a bag is the (weighted) sum or mean of its ids' vectors, as in the tables. Implementations are
/// immutable and thread-safe.
/// </summary>
public interface IRowAddressing
{
    string TableName { get; }
    /// <summary>Family name as in configs: full, hash, qr, md, ue.</summary>
    string Family { get; }
    IReadOnlyList<FeatureSlot> Features { get; }
    /// <summary>The table's matrices in the order of <see cref="IEmbeddingTable.Matrices"/>.</summary>
    IReadOnlyList<MatrixShape> Matrices { get; }

    int FeatureIndex(string name);

    /// <summary>Most rows one id of feature f reads.</summary>
    int MaxRowsPerId(int feature);

    /// <summary>Fills the rows id reads (in combine order) and returns how many; throws for an id the family refuses.</summary>
    int Resolve(int feature, long id, Span<PhysicalRow> rows);

    /// <summary>
    /// Writes feature f's vector (OutputDim_f floats) from the values of <paramref name="rows"/>, packed in order
    /// (row i contributes Matrices[rows[i].Matrix].Dim floats).
    /// </summary>
    void Combine(int feature, ReadOnlySpan<PhysicalRow> rows, ReadOnlySpan<float> values, Span<float> output);
}
