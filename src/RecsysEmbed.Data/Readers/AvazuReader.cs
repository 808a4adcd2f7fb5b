using System.Text;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Schema;

namespace RecsysEmbed.Data.Readers;

/// <summary>
/// Avazu CTR logs: comma-separated with a header line, e.g.
/// <code>
///   id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,...,device_conn_type,C14,...,C21
///   1000009418151094273,0,14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,...,2,15706,320,...,79
/// </code>
/// click is the label (0 or 1). hour (YYMMDDHH, 20YY) becomes two categorical features, hour_of_day (0..23) and
/// day_of_week (0 = Sunday .. 6); every other column except id is a categorical feature named after its header
/// column and hashed from its UTF-8 bytes (empty = empty bag). No dense features. Columns are found by header
/// name, so extra or reordered columns work; click and hour are required.
/// </summary>
public sealed class AvazuReader : TextCtrReader
{
    public const string HourOfDay = "hour_of_day";
    public const string DayOfWeek = "day_of_week";

    private readonly DatasetSchema _schema;
    private readonly int _columnCount;
    private readonly int _clickColumn, _hourColumn;
    private readonly int[] _sparseColumns;   // column index of sparse feature f (for f < _sparseColumns.Length)
    private readonly string[] _columnNames;
    private readonly int _hourOfDayFeature, _dayOfWeekFeature;
    private readonly int[] _starts, _ends;
    private long _cachedHour = -1;
    private int _cachedHourOfDay, _cachedDayOfWeek;

    public AvazuReader(string path, CtrReaderOptions? options = null, ReaderPosition? start = null)
        : base(path, options)
    {
        try
        {
            if (!TryReadHeaderLine(out var header)) throw new InvalidDataException($"{SourceName}: the file is empty; an Avazu file starts with a header line.");
            _columnNames = Encoding.UTF8.GetString(header).Split(',').Select(c => c.Trim()).ToArray();
            _columnCount = _columnNames.Length;
            _clickColumn = Array.IndexOf(_columnNames, "click");
            _hourColumn = Array.IndexOf(_columnNames, "hour");
            if (_clickColumn < 0 || _hourColumn < 0)
                throw new InvalidDataException($"{SourceName} line 1: the header needs 'click' and 'hour' columns, got [{string.Join(",", _columnNames)}].");

            var sparseColumns = new List<int>();
            for (int c = 0; c < _columnCount; c++)
            {
                if (c != _clickColumn && c != _hourColumn && _columnNames[c] != "id") sparseColumns.Add(c);
            }
            _sparseColumns = sparseColumns.ToArray();
            var names = _sparseColumns.Select(c => _columnNames[c]).Append(HourOfDay).Append(DayOfWeek).ToArray();
            _schema = new DatasetSchema("click", [], names);
            _hourOfDayFeature = _sparseColumns.Length;
            _dayOfWeekFeature = _sparseColumns.Length + 1;
            _starts = new int[_columnCount];
            _ends = new int[_columnCount];
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
        int n = Utf8Fields.Split(line, (byte)',', _starts, _ends);
        if (n != _columnCount)
            return Reject("(record)", line, $"expected {_columnCount} comma-separated fields (as the header), found {n}");

        var click = line[_starts[_clickColumn].._ends[_clickColumn]];
        if (click.Length != 1 || (click[0] != (byte)'0' && click[0] != (byte)'1'))
            return Reject("click", click, "click must be 0 or 1");

        var hour = line[_starts[_hourColumn].._ends[_hourColumn]];
        if (!TryHourFeatures(hour, out int hourOfDay, out int dayOfWeek))
            return Reject("hour", hour, "hour must be YYMMDDHH (a valid date, hour 00..23)");

        builder.BeginSample(click[0] == (byte)'1' ? 1f : 0f, lineNumber);
        var sparse = builder.Sparse;
        for (int f = 0; f < _sparseColumns.Length; f++)
        {
            int c = _sparseColumns[f];
            if (_ends[c] > _starts[c]) sparse.AddUtf8(f, line[_starts[c].._ends[c]]);
        }
        sparse.AddInt64(_hourOfDayFeature, hourOfDay);
        sparse.AddInt64(_dayOfWeekFeature, dayOfWeek);
        builder.EndSample();
        return true;
    }

    /// <summary>hour_of_day and day_of_week of a YYMMDDHH value (20YY); rows are sorted by hour, so one is cached.</summary>
    private bool TryHourFeatures(ReadOnlySpan<byte> hour, out int hourOfDay, out int dayOfWeek)
    {
        hourOfDay = dayOfWeek = 0;
        if (hour.Length != 8) return false;
        long value = 0;
        foreach (byte b in hour)
        {
            if ((uint)(b - '0') > 9) return false;
            value = value * 10 + (b - '0');
        }
        if (value == _cachedHour)
        {
            hourOfDay = _cachedHourOfDay;
            dayOfWeek = _cachedDayOfWeek;
            return true;
        }
        int yy = (int)(value / 1_000_000), mm = (int)(value / 10_000 % 100), dd = (int)(value / 100 % 100), hh = (int)(value % 100);
        if (mm is < 1 or > 12 || hh > 23 || dd < 1 || dd > DateTime.DaysInMonth(2000 + yy, mm)) return false;
        hourOfDay = hh;
        dayOfWeek = (int)new DateOnly(2000 + yy, mm, dd).DayOfWeek;
        _cachedHour = value;
        _cachedHourOfDay = hourOfDay;
        _cachedDayOfWeek = dayOfWeek;
        return true;
    }
}
