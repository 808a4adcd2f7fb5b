using System.Text;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Schema;

namespace RecsysEmbed.Data.Readers;

/// <summary>
/// User CSV/TSV files described by a <see cref="TabularSchema"/> (delimiter, header, label/dense/sparse columns
/// by name or index). With a header every line must have the header's field count; without one, at least as many
/// fields as the highest column index used. Quoted fields (RFC 4180) are unquoted before parsing or hashing.
/// <code>
///   clicked,price,user_id,tags
///   1,12.5,u42,"sports|news"
/// </code>
/// </summary>
public sealed class DelimitedReader : TextCtrReader
{
    private readonly TabularSchema _table;
    private readonly DatasetSchema _schema;
    private readonly byte _delimiter;
    private readonly int _labelColumn;
    private readonly int[] _denseColumns, _sparseColumns;
    private readonly string[] _denseNames, _sparseNames;
    private readonly string _labelName;
    private readonly int _exactFieldCount;   // -1 without a header
    private readonly int _minFieldCount;
    private readonly Transforms.DenseTransform _dense;
    private int[] _starts, _ends;
    private bool[] _escaped;
    private byte[] _scratch = new byte[256];
    private readonly double[] _raw;

    public DelimitedReader(string path, TabularSchema table, CtrReaderOptions? options = null, ReaderPosition? start = null)
        : base(path, options)
    {
        try
        {
            ArgumentNullException.ThrowIfNull(table);
            table.Validate();
            _table = table;
            _schema = table.ToDatasetSchema();
            _delimiter = (byte)table.Delimiter;
            _dense = Options.Dense;
            _dense.Validate(_schema.DenseCount);
            _starts = new int[16];
            _ends = new int[16];
            _escaped = new bool[16];

            string[]? header = null;
            if (table.HasHeader)
            {
                if (!TryReadHeaderLine(out var line)) throw new InvalidDataException($"{SourceName}: the file is empty, but the schema says it has a header line.");
                header = ParseHeader(line);
            }
            _exactFieldCount = header?.Length ?? -1;
            _labelColumn = Resolve(table.Label, header);
            _denseColumns = table.Dense.Select(c => Resolve(c, header)).ToArray();
            _sparseColumns = table.Sparse.Select(c => Resolve(c, header)).ToArray();
            _minFieldCount = 1 + _denseColumns.Concat(_sparseColumns).Append(_labelColumn).Max();
            _labelName = table.Label.FeatureName;
            _denseNames = _schema.DenseFeatures.ToArray();
            _sparseNames = _schema.SparseFeatures.ToArray();
            _raw = new double[_denseColumns.Length];
            ResumeAt(start);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public override DatasetSchema Schema => _schema;

    protected override bool TryParseRecord(ReadOnlySpan<byte> line, long lineNumber, CtrBatchBuilder builder)
    {
        int n;
        while (true)
        {
            n = SplitLine(line, out string? quoteError);
            if (quoteError != null) return Reject("(record)", line, quoteError);
            if (n <= _starts.Length) break;
            GrowFieldArrays(n);
        }
        if (_exactFieldCount >= 0 ? n != _exactFieldCount : n < _minFieldCount)
        {
            string expected = _exactFieldCount >= 0 ? $"{_exactFieldCount} (as the header)" : $"at least {_minFieldCount}";
            return Reject("(record)", line, $"expected {expected} fields separated by '{(char)_delimiter}', found {n}");
        }

        var labelText = Field(line, _labelColumn);
        float label;
        if (!Utf8Fields.TryParseDouble(labelText, out double labelValue)) return Reject(_labelName, labelText, "label is not a number");
        if (_table.PositiveThreshold is { } threshold) label = labelValue >= threshold ? 1f : 0f;
        else if (labelValue is 0 or 1) label = (float)labelValue;
        else return Reject(_labelName, labelText, "label must be 0 or 1 (set PositiveThreshold to binarise other values)");

        for (int d = 0; d < _denseColumns.Length; d++)
        {
            var text = Field(line, _denseColumns[d]);
            if (text.IsEmpty) _raw[d] = double.NaN;
            else if (Utf8Fields.TryParseDouble(text, out double v)) _raw[d] = v;
            else return Reject(_denseNames[d], text, "not a finite number");
        }

        var dense = builder.BeginSample(label, lineNumber);
        for (int d = 0; d < _denseColumns.Length; d++) dense[d] = _dense.Apply(d, _raw[d]);
        var sparse = builder.Sparse;
        for (int f = 0; f < _sparseColumns.Length; f++)
        {
            var text = Field(line, _sparseColumns[f]);
            if (text.IsEmpty) continue;
            if (_table.MultiValueSeparator is not { } sep)
            {
                sparse.AddUtf8(f, text);
                continue;
            }
            foreach (var range in text.Split((byte)sep))
            {
                if (range.End.GetOffset(text.Length) > range.Start.GetOffset(text.Length)) sparse.AddUtf8(f, text[range]);
            }
        }
        builder.EndSample();
        return true;
    }

    private int Resolve(ColumnRef column, string[]? header)
    {
        if (column.Column is { } name)
        {
            if (header is null) throw new ArgumentException($"column '{name}' is given by name, but the schema says the file has no header; use ColumnRef.ByIndex.");
            int index = Array.IndexOf(header, name);
            if (index < 0) throw new InvalidDataException($"{SourceName} line 1: column '{name}' is not in the header [{string.Join(", ", header)}].");
            return index;
        }
        if (header != null && column.Index >= header.Length)
            throw new InvalidDataException($"{SourceName} line 1: column index {column.Index} ({column.FeatureName}) is past the header's {header.Length} columns.");
        return column.Index;
    }

    private string[] ParseHeader(ReadOnlySpan<byte> line)
    {
        int n;
        while (true)
        {
            n = SplitLine(line, out string? error);
            if (error != null) throw new InvalidDataException($"{SourceName} line 1: header: {error}.");
            if (n <= _starts.Length) break;
            GrowFieldArrays(n);
        }
        var names = new string[n];
        for (int i = 0; i < n; i++) names[i] = Encoding.UTF8.GetString(Field(line, i)).Trim();
        return names;
    }

    private void GrowFieldArrays(int n)
    {
        int size = Math.Max(n, _starts.Length * 2);
        _starts = new int[size];
        _ends = new int[size];
        _escaped = new bool[size];
    }

    /// <summary>Field i's text, unquoted ("" becomes " in the scratch buffer, valid until the next call).</summary>
    private ReadOnlySpan<byte> Field(ReadOnlySpan<byte> line, int i)
    {
        var raw = line[_starts[i].._ends[i]];
        if (!_escaped[i]) return raw;
        if (_scratch.Length < raw.Length) _scratch = new byte[raw.Length * 2];
        int n = 0;
        for (int k = 0; k < raw.Length; k++)
        {
            _scratch[n++] = raw[k];
            if (raw[k] == (byte)'"') k++; // skip the second quote of a pair
        }
        return _scratch.AsSpan(0, n);
    }

    /// <summary>Fills field bounds (quotes stripped) and returns the field count; quoteError on bad quoting.</summary>
    private int SplitLine(ReadOnlySpan<byte> line, out string? quoteError)
    {
        quoteError = null;
        if (!_table.Quoted || line.IndexOf((byte)'"') < 0)
        {
            _escaped.AsSpan().Clear();
            return Utf8Fields.Split(line, _delimiter, _starts, _ends);
        }
        int count = 0, pos = 0;
        while (true)
        {
            int start, end, next;
            bool escaped = false;
            if (pos < line.Length && line[pos] == (byte)'"')
            {
                int i = pos + 1;
                while (true)
                {
                    int q = line[i..].IndexOf((byte)'"');
                    if (q < 0)
                    {
                        quoteError = "unterminated quoted field (quoted line breaks are not supported)";
                        return count;
                    }
                    i += q;
                    if (i + 1 < line.Length && line[i + 1] == (byte)'"')
                    {
                        escaped = true;
                        i += 2;
                        continue;
                    }
                    break;
                }
                start = pos + 1;
                end = i;
                next = i + 1;
                if (next < line.Length && line[next] != _delimiter)
                {
                    quoteError = $"text after the closing quote of field {count + 1}";
                    return count;
                }
            }
            else
            {
                int rel = line[pos..].IndexOf(_delimiter);
                start = pos;
                end = rel < 0 ? line.Length : pos + rel;
                next = end;
            }
            if (count < _starts.Length)
            {
                _starts[count] = start;
                _ends[count] = end;
                _escaped[count] = escaped;
            }
            count++;
            if (next >= line.Length) return count;
            pos = next + 1; // a trailing delimiter leaves pos == line.Length: one last, empty field
        }
    }
}
