using System.Buffers.Text;
using System.Numerics;
using Parquet;
using Parquet.Schema;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Schema;

namespace RecsysEmbed.Data.Readers;

/// <summary>
/// Parquet files (Parquet.Net) described by a <see cref="TabularSchema"/> (its delimiter, header and quoting
/// settings are ignored; columns by name, or by index into the file's flat data fields). Reads one row group at a
/// time, only the named columns, so memory is bounded by the largest row group.
/// <code>
///   label, dense   any numeric or bool column; null dense = missing; null label = malformed
///   sparse         string, binary, integer or bool columns; hashed from their text (an int 42 hashes as "42",
///                  the same id a CSV cell "42" gets); null = empty bag
/// </code>
/// Nested and repeated (list) columns are not supported. Positions are row indices: <see cref="Position"/>'s
/// <see cref="ReaderPosition.RecordIndex"/> is the next row, and batches carry 0-based row indices as source
/// positions. Parquet.Net is asynchronous; this reader blocks on it (call it from a reading thread).
/// </summary>
public sealed class ParquetCtrReader : ICtrReader
{
    private readonly ParquetReader _reader;
    private readonly TabularSchema _table;
    private readonly DatasetSchema _schema;
    private readonly CtrReaderOptions _options;
    private readonly Transforms.DenseTransform _dense;
    private readonly ColumnData _label;
    private readonly ColumnData[] _denseColumns, _sparseColumns;
    private int _group = -1;
    private int _groupRows, _row;
    private long _recordIndex;

    public ParquetCtrReader(string path, TabularSchema table, CtrReaderOptions? options = null, ReaderPosition? start = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(table);
        table.Validate();
        _options = options ?? CtrReaderOptions.Default;
        _options.Validate();
        _table = table;
        _schema = table.ToDatasetSchema();
        _dense = _options.Dense;
        _dense.Validate(_schema.DenseCount);
        SourceName = Path.GetFileName(path);
        Report = new MalformedReport(_options.MaxMalformedExamples);
        _reader = ParquetReader.CreateAsync(path).GetAwaiter().GetResult();
        try
        {
            var fields = _reader.Schema.GetDataFields();
            _label = new ColumnData(Resolve(table.Label, fields), numeric: true, SourceName);
            _denseColumns = table.Dense.Select(c => new ColumnData(Resolve(c, fields), numeric: true, SourceName)).ToArray();
            _sparseColumns = table.Sparse.Select(c => new ColumnData(Resolve(c, fields), numeric: false, SourceName)).ToArray();
            if (start is { RecordIndex: > 0 } p) SkipTo(p.RecordIndex);
        }
        catch
        {
            _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    public DatasetSchema Schema => _schema;
    public string SourceName { get; }
    public MalformedReport Report { get; }
    public ReaderPosition Position => new(0, 0, _recordIndex);

    public int ReadSamples(CtrBatchBuilder builder, int maxSamples)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfNegative(maxSamples);
        if (!builder.Schema.SameLayout(Schema))
            throw new ArgumentException($"the builder's schema ({builder.Schema}) differs from the reader's ({Schema}).", nameof(builder));
        builder.SourceName = SourceName;
        int n = 0;
        while (n < maxSamples)
        {
            if (_row == _groupRows && !LoadNextGroup()) break;
            int row = _row++;
            long record = _recordIndex++;
            if (TryAddRow(row, record, builder, out var rejection))
            {
                n++;
                continue;
            }
            if (_options.OnMalformed == MalformedPolicy.Fail) throw new MalformedRecordException(rejection!);
            Report.AddSkipped(rejection!);
        }
        return n;
    }

    public void Dispose() => _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();

    private bool TryAddRow(int row, long record, CtrBatchBuilder builder, out MalformedExample? rejection)
    {
        rejection = null;
        double labelValue = _label.Numbers[row];
        float label;
        if (double.IsNaN(labelValue)) return Reject(out rejection, record, _label, "", "label is null");
        if (_table.PositiveThreshold is { } threshold) label = labelValue >= threshold ? 1f : 0f;
        else if (labelValue is 0 or 1) label = (float)labelValue;
        else return Reject(out rejection, record, _label, labelValue.ToString("R"), "label must be 0 or 1 (set PositiveThreshold to binarise other values)");
        for (int d = 0; d < _denseColumns.Length; d++)
        {
            double v = _denseColumns[d].Numbers[row];
            if (double.IsInfinity(v)) return Reject(out rejection, record, _denseColumns[d], v.ToString("R"), "not a finite number");
        }

        var dense = builder.BeginSample(label, record);
        for (int d = 0; d < _denseColumns.Length; d++) dense[d] = _dense.Apply(d, _denseColumns[d].Numbers[row]);
        var sparse = builder.Sparse;
        Span<byte> digits = stackalloc byte[24];
        for (int f = 0; f < _sparseColumns.Length; f++)
        {
            var c = _sparseColumns[f];
            switch (c.Kind)
            {
                case ColumnKind.Integer:
                    if (c.Integers[row] is long i && Utf8Formatter.TryFormat(i, digits, out int written)) sparse.AddUtf8(f, digits[..written]);
                    break;
                case ColumnKind.UnsignedInteger:
                    if (c.Unsigned[row] is ulong u && Utf8Formatter.TryFormat(u, digits, out int uWritten)) sparse.AddUtf8(f, digits[..uWritten]);
                    break;
                case ColumnKind.Binary:
                    if (c.Binary[row] is { } bytes) sparse.AddUtf8(f, bytes);
                    break;
                default:
                    if (c.Text[row] is not { Length: > 0 } text) break;
                    if (_table.MultiValueSeparator is not { } sep)
                    {
                        sparse.AddString(f, text);
                        break;
                    }
                    foreach (var range in text.AsSpan().Split(sep))
                    {
                        var part = text.AsSpan()[range];
                        if (!part.IsEmpty) sparse.AddString(f, part);
                    }
                    break;
            }
        }
        builder.EndSample();
        return true;
    }

    private bool Reject(out MalformedExample? rejection, long record, ColumnData column, string value, string reason)
    {
        rejection = new MalformedExample(SourceName, record, column.Field.Name, value, reason, PositionUnit: "row");
        return false;
    }

    private bool LoadNextGroup()
    {
        while (_group + 1 < _reader.RowGroupCount)
        {
            _group++;
            using var group = _reader.OpenRowGroupReader(_group);
            _groupRows = checked((int)group.RowCount);
            _row = 0;
            if (_groupRows == 0) continue;
            _label.Load(group, _groupRows);
            foreach (var c in _denseColumns) c.Load(group, _groupRows);
            foreach (var c in _sparseColumns) c.Load(group, _groupRows);
            return true;
        }
        _groupRows = _row = 0;
        return false;
    }

    private void SkipTo(long recordIndex)
    {
        long before = 0;
        for (int g = 0; g < _reader.RowGroupCount; g++)
        {
            long rows;
            using (var group = _reader.OpenRowGroupReader(g)) rows = group.RowCount;
            if (recordIndex < before + rows)
            {
                _group = g - 1;
                LoadNextGroup();
                _row = (int)(recordIndex - before);
                _recordIndex = recordIndex;
                return;
            }
            before += rows;
        }
        _group = _reader.RowGroupCount;
        _recordIndex = before;
        if (recordIndex > before)
            throw new ArgumentOutOfRangeException(nameof(recordIndex), recordIndex, $"{SourceName} has only {before} rows.");
    }

    private DataField Resolve(ColumnRef column, DataField[] fields)
    {
        DataField? field = column.Column is { } name
            ? fields.FirstOrDefault(f => f.Name == name || f.Path.ToString() == name)
            : column.Index < fields.Length ? fields[column.Index] : null;
        if (field is null)
            throw new InvalidDataException($"{SourceName}: column {column} is not among the file's columns [{string.Join(", ", fields.Select(f => f.Name))}].");
        if (field.IsArray || field.MaxRepetitionLevel > 0)
            throw new NotSupportedException($"{SourceName}: column '{field.Name}' is repeated (a list); only flat columns are read.");
        return field;
    }

    private enum ColumnKind { Number, Integer, UnsignedInteger, Text, Binary }

    /// <summary>One named column's values for the current row group, converted once per group.</summary>
    private sealed class ColumnData
    {
        private readonly bool _numeric;

        public ColumnData(DataField field, bool numeric, string source)
        {
            Field = field;
            _numeric = numeric;
            var t = field.ClrType;
            bool integer = t == typeof(sbyte) || t == typeof(short) || t == typeof(int) || t == typeof(long) || t == typeof(bool);
            bool unsigned = t == typeof(byte) || t == typeof(ushort) || t == typeof(uint) || t == typeof(ulong);
            bool real = t == typeof(float) || t == typeof(double) || t == typeof(decimal);
            bool text = t == typeof(string) || t == typeof(ReadOnlyMemory<char>);
            bool binary = t == typeof(byte[]) || t == typeof(ReadOnlyMemory<byte>);
            if (numeric)
            {
                if (!(integer || unsigned || real))
                    throw new NotSupportedException($"{source}: column '{field.Name}' has type {t.Name}; a label or dense column must be numeric or bool.");
                Kind = ColumnKind.Number;
            }
            else
            {
                Kind = integer ? ColumnKind.Integer : unsigned ? ColumnKind.UnsignedInteger : text ? ColumnKind.Text : binary ? ColumnKind.Binary
                    : throw new NotSupportedException($"{source}: column '{field.Name}' has type {t.Name}; a sparse column must be string, binary, integer or bool (use a dense column for real numbers).");
            }
        }

        public DataField Field { get; }
        public ColumnKind Kind { get; }
        public double[] Numbers { get; private set; } = [];
        public long?[] Integers { get; private set; } = [];
        public ulong?[] Unsigned { get; private set; } = [];
        public string?[] Text { get; private set; } = [];
        public byte[]?[] Binary { get; private set; } = [];

        public void Load(ParquetRowGroupReader group, int rows)
        {
            var t = Field.ClrType;
            if (_numeric)
            {
                if (Numbers.Length < rows) Numbers = new double[rows];
                if (t == typeof(double)) ReadNumbers<double>(group, rows);
                else if (t == typeof(float)) ReadNumbers<float>(group, rows);
                else if (t == typeof(decimal)) ReadNumbers<decimal>(group, rows);
                else if (t == typeof(long)) ReadNumbers<long>(group, rows);
                else if (t == typeof(int)) ReadNumbers<int>(group, rows);
                else if (t == typeof(short)) ReadNumbers<short>(group, rows);
                else if (t == typeof(sbyte)) ReadNumbers<sbyte>(group, rows);
                else if (t == typeof(ulong)) ReadNumbers<ulong>(group, rows);
                else if (t == typeof(uint)) ReadNumbers<uint>(group, rows);
                else if (t == typeof(ushort)) ReadNumbers<ushort>(group, rows);
                else if (t == typeof(byte)) ReadNumbers<byte>(group, rows);
                else if (t == typeof(bool))
                {
                    var values = Read<bool>(group, rows);
                    for (int i = 0; i < rows; i++) Numbers[i] = values[i] is bool b ? (b ? 1 : 0) : double.NaN;
                }
                return;
            }
            switch (Kind)
            {
                case ColumnKind.Integer:
                    if (Integers.Length < rows) Integers = new long?[rows];
                    if (t == typeof(long)) ReadIntegers<long>(group, rows);
                    else if (t == typeof(int)) ReadIntegers<int>(group, rows);
                    else if (t == typeof(short)) ReadIntegers<short>(group, rows);
                    else if (t == typeof(sbyte)) ReadIntegers<sbyte>(group, rows);
                    else
                    {
                        var values = Read<bool>(group, rows);
                        for (int i = 0; i < rows; i++) Integers[i] = values[i] is bool b ? (b ? 1 : 0) : null;
                    }
                    break;
                case ColumnKind.UnsignedInteger:
                    if (Unsigned.Length < rows) Unsigned = new ulong?[rows];
                    if (t == typeof(ulong)) ReadUnsigned<ulong>(group, rows);
                    else if (t == typeof(uint)) ReadUnsigned<uint>(group, rows);
                    else if (t == typeof(ushort)) ReadUnsigned<ushort>(group, rows);
                    else ReadUnsigned<byte>(group, rows);
                    break;
                case ColumnKind.Binary:
                    if (Binary.Length < rows) Binary = new byte[]?[rows];
                    group.ReadAsync(Field, Binary.AsMemory(0, rows)!).GetAwaiter().GetResult();
                    break;
                default:
                    if (Text.Length < rows) Text = new string?[rows];
                    group.ReadAsync(Field, Text.AsMemory(0, rows)!).GetAwaiter().GetResult();
                    break;
            }
        }

        private T?[] Read<T>(ParquetRowGroupReader group, int rows) where T : struct
        {
            var values = new T?[rows];
            group.ReadAsync<T>(Field, values.AsMemory()).GetAwaiter().GetResult();
            return values;
        }

        private void ReadNumbers<T>(ParquetRowGroupReader group, int rows) where T : struct, INumberBase<T>
        {
            var values = Read<T>(group, rows);
            for (int i = 0; i < rows; i++) Numbers[i] = values[i] is T v ? double.CreateChecked(v) : double.NaN;
        }

        private void ReadIntegers<T>(ParquetRowGroupReader group, int rows) where T : struct, IBinaryInteger<T>
        {
            var values = Read<T>(group, rows);
            for (int i = 0; i < rows; i++) Integers[i] = values[i] is T v ? long.CreateChecked(v) : null;
        }

        private void ReadUnsigned<T>(ParquetRowGroupReader group, int rows) where T : struct, IBinaryInteger<T>
        {
            var values = Read<T>(group, rows);
            for (int i = 0; i < rows; i++) Unsigned[i] = values[i] is T v ? ulong.CreateChecked(v) : null;
        }
    }
}
