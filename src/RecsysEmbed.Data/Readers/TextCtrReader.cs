using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Schema;

namespace RecsysEmbed.Data.Readers;

/// <summary>
/// Base of the line-oriented readers (Criteo, Avazu, MovieLens, libFM, schema-driven CSV/TSV). Owns the
/// buffered <see cref="Utf8LineReader"/>, line and record counting, resuming, and the malformed-record policy;
/// a format implements <see cref="TryParseRecord"/>.
/// <para>
/// Contract for <see cref="TryParseRecord"/>: validate the whole line first, and only then write one sample
/// (BeginSample .. EndSample) into the builder; on a problem call <see cref="Reject"/> and return its false
/// without having touched the builder.
/// </para>
/// <para>Derived constructors that can throw after the base opened the file call <see cref="Dispose()"/> first.</para>
/// </summary>
public abstract class TextCtrReader : ICtrReader
{
    private readonly Utf8LineReader _lines;
    private readonly CtrReaderOptions _options;
    private long _lineNumber, _recordIndex;
    private MalformedExample? _rejection;

    protected TextCtrReader(string path, CtrReaderOptions? options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _options = options ?? CtrReaderOptions.Default;
        _options.Validate();
        SourceName = Path.GetFileName(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        _lines = new Utf8LineReader(stream, _options.BufferBytes);
        Report = new MalformedReport(_options.MaxMalformedExamples);
    }

    public abstract DatasetSchema Schema { get; }
    public string SourceName { get; }
    public MalformedReport Report { get; }
    public ReaderPosition Position => new(_lines.Position, _lineNumber, _recordIndex);
    protected CtrReaderOptions Options => _options;

    public int ReadSamples(CtrBatchBuilder builder, int maxSamples)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfNegative(maxSamples);
        if (!builder.Schema.SameLayout(Schema))
            throw new ArgumentException($"the builder's schema ({builder.Schema}) differs from the reader's ({Schema}).", nameof(builder));
        builder.SourceName = SourceName;
        int n = 0;
        while (n < maxSamples && _lines.TryReadLine(out var line))
        {
            _lineNumber++;
            if (line.IsEmpty)
            {
                Report.AddBlankLine();
                continue;
            }
            _recordIndex++;
            _rejection = null;
            if (TryParseRecord(line, _lineNumber, builder))
            {
                n++;
                continue;
            }
            var example = _rejection ?? new MalformedExample(SourceName, _lineNumber, "(record)", Utf8Fields.ForMessage(line), "rejected");
            if (_options.OnMalformed == MalformedPolicy.Fail) throw new MalformedRecordException(example);
            Report.AddSkipped(example);
        }
        return n;
    }

    /// <summary>Parses one non-empty line into one sample; see the class remarks for the contract.</summary>
    protected abstract bool TryParseRecord(ReadOnlySpan<byte> line, long lineNumber, CtrBatchBuilder builder);

    /// <summary>Records why the current line is malformed; returns false for <c>return Reject(...)</c>.</summary>
    protected bool Reject(string field, ReadOnlySpan<byte> value, string reason)
    {
        _rejection = new MalformedExample(SourceName, _lineNumber, field, Utf8Fields.ForMessage(value), reason);
        return false;
    }

    /// <summary>Reads a header line (call from the constructor, before <see cref="ResumeAt"/>).</summary>
    protected bool TryReadHeaderLine(out ReadOnlySpan<byte> line)
    {
        if (!_lines.TryReadLine(out line)) return false;
        _lineNumber++;
        return true;
    }

    /// <summary>Goes back to the first line (for format sniffing in a constructor).</summary>
    protected void Rewind()
    {
        _lines.Seek(0);
        _lineNumber = 0;
        _recordIndex = 0;
    }

    /// <summary>
    /// Continues from a checkpoint (call at the end of the constructor, after any header). A position at or before
    /// the current one (e.g. <see cref="ReaderPosition.Start"/>) keeps reading from here.
    /// </summary>
    protected void ResumeAt(ReaderPosition? start)
    {
        if (start is not { } p || p.ByteOffset <= _lines.Position) return;
        _lines.Seek(p.ByteOffset);
        _lineNumber = p.LineNumber;
        _recordIndex = p.RecordIndex;
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing) _lines.Dispose();
    }
}
