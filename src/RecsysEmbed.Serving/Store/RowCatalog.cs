using System.Text.Json;
using RecsysEmbed.Core.Export;
using RecsysEmbed.Core.Tables.Addressing;

namespace RecsysEmbed.Serving.Store;

/// <summary>One stored matrix: its global id (the key's high bits), owning table, shape and row format.</summary>
public sealed record StoredMatrix(int Id, string Table, string Name, long Rows, int Dim, RowFormat Format)
{
    /// <summary>Bytes of one stored value: i64 version + encoded row.</summary>
    public int ValueBytes => sizeof(long) + RowCodec.EncodedBytes(Format, Dim);
}

/// <summary>
/// Every matrix of the model, numbered in plan order (table by table, matrix by matrix), with its storage format.
/// The catalog is written into the store so a recovered store refuses a model whose shapes differ.
/// </summary>
public sealed class RowCatalog
{
    private readonly StoredMatrix[] _matrices;
    private readonly Dictionary<string, StoredMatrix> _byName;
    private readonly Dictionary<string, int> _tableBase;

    public RowCatalog(IReadOnlyList<IRowAddressing> tables, Func<string, RowFormat> formatOf)
    {
        var list = new List<StoredMatrix>();
        _tableBase = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in tables)
        {
            _tableBase[t.TableName] = list.Count;
            foreach (var m in t.Matrices) list.Add(new StoredMatrix(list.Count, t.TableName, m.Name, m.Rows, m.Dim, formatOf(t.TableName)));
        }
        if (list.Count > FasterRowStore.MaxMatrices)
            throw new ArgumentException($"the model has {list.Count} matrices; the store keys at most {FasterRowStore.MaxMatrices}.", nameof(tables));
        _matrices = list.ToArray();
        _byName = _matrices.ToDictionary(m => m.Name, StringComparer.Ordinal);
    }

    public IReadOnlyList<StoredMatrix> Matrices => _matrices;
    public long TotalRows => _matrices.Sum(m => m.Rows);
    public int MaxDim => _matrices.Length == 0 ? 0 : _matrices.Max(m => m.Dim);

    /// <summary>Global id of matrix <paramref name="local"/> of a table.</summary>
    public int GlobalId(string table, int local) => _tableBase[table] + local;

    public bool TryGet(string matrixName, out StoredMatrix matrix) => _byName.TryGetValue(matrixName, out matrix!);

    public StoredMatrix this[int id] => _matrices[id];

    internal byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(_matrices.Select(m => new object[] { m.Name, m.Rows, m.Dim, m.Format.ToString() }));

    /// <summary>Throws naming the first matrix whose shape or format differs from what the store was built with.</summary>
    internal void CheckMatches(byte[] stored, string where)
    {
        var rows = JsonSerializer.Deserialize<JsonElement[][]>(stored) ?? [];
        if (rows.Length != _matrices.Length)
            throw new InvalidDataException($"{where}: the store holds {rows.Length} matrices, the model has {_matrices.Length}; rebuild the store (delete it) for this model.");
        for (int i = 0; i < rows.Length; i++)
        {
            var m = _matrices[i];
            string name = rows[i][0].GetString()!;
            long r = rows[i][1].GetInt64();
            int d = rows[i][2].GetInt32();
            string f = rows[i][3].GetString()!;
            if (name != m.Name || r != m.Rows || d != m.Dim || f != m.Format.ToString())
                throw new InvalidDataException($"{where}: matrix {i} is '{name}' {r} x {d} {f} in the store but '{m.Name}' {m.Rows} x {m.Dim} {m.Format} in the model.");
        }
    }
}
