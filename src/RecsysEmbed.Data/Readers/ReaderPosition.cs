namespace RecsysEmbed.Data.Readers;

/// <summary>
/// Where a reader stands, for checkpoints: pass it to the reader's constructor to resume with the next record.
/// <code>
///   ByteOffset    start of the next unread line in the file (text readers); 0 for Parquet
///   LineNumber    lines consumed so far, header and blank lines included (the next line is LineNumber + 1)
///   RecordIndex   data records consumed so far, skipped malformed ones included (Parquet: the next row)
/// </code>
/// A text reader resumes from <see cref="ByteOffset"/> (and continues counting lines from
/// <see cref="LineNumber"/>); a Parquet reader resumes from <see cref="RecordIndex"/>. The malformed-record report
/// starts empty after a resume.
/// </summary>
public readonly record struct ReaderPosition(long ByteOffset, long LineNumber, long RecordIndex)
{
    public static ReaderPosition Start => default;

    public override string ToString() => $"byte {ByteOffset}, line {LineNumber}, record {RecordIndex}";
}
