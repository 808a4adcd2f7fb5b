using System.Text;

namespace RecsysEmbed.Data.Readers;

/// <summary>What a reader does with a record it cannot parse (wrong field count, bad number, bad label).</summary>
public enum MalformedPolicy
{
    /// <summary>Throw <see cref="MalformedRecordException"/> naming file, line, field and value.</summary>
    Fail,

    /// <summary>Drop the record, count it, and keep the first few as examples in <see cref="MalformedReport"/>.</summary>
    Skip,
}

/// <summary>
/// One rejected record: where, which field, its raw value and why. <see cref="Line"/> is the 1-based file line for
/// text formats and the 0-based row index for Parquet (<see cref="PositionUnit"/> says which).
/// </summary>
public sealed record MalformedExample(string Source, long Line, string Field, string Value, string Reason, string PositionUnit = "line")
{
    public override string ToString() => $"{Source} {PositionUnit} {Line}: field {Field} = '{Value}': {Reason}";
}

/// <summary>Thrown under <see cref="MalformedPolicy.Fail"/>; the message names file, line, field and value.</summary>
public sealed class MalformedRecordException : FormatException
{
    public MalformedRecordException(MalformedExample example)
        : base(example.ToString()) => Example = example;

    public MalformedExample Example { get; }
    public string SourceName => Example.Source;
    public long Line => Example.Line;
    public string Field => Example.Field;
    public string Value => Example.Value;
    public string Reason => Example.Reason;
}

/// <summary>
/// Counts of what a reader passed over: malformed records (with the first <see cref="MaxExamples"/> as
/// examples) and blank lines. Nothing is dropped without being counted here.
/// </summary>
public sealed class MalformedReport
{
    private readonly List<MalformedExample> _examples = [];

    public MalformedReport(int maxExamples = 5) => MaxExamples = maxExamples;

    public int MaxExamples { get; }
    public long SkippedRecords { get; private set; }
    public long BlankLines { get; private set; }
    public IReadOnlyList<MalformedExample> Examples => _examples;

    internal void AddSkipped(MalformedExample example)
    {
        SkippedRecords++;
        if (_examples.Count < MaxExamples) _examples.Add(example);
    }

    internal void AddBlankLine() => BlankLines++;

    /// <summary>A few lines for a log: the counts and the examples.</summary>
    public string Summary()
    {
        var sb = new StringBuilder();
        sb.Append($"skipped {SkippedRecords} malformed record(s), {BlankLines} blank line(s)");
        foreach (var e in _examples) sb.Append("\n  ").Append(e);
        if (SkippedRecords > _examples.Count) sb.Append($"\n  ... and {SkippedRecords - _examples.Count} more");
        return sb.ToString();
    }

    public override string ToString() => Summary();
}
