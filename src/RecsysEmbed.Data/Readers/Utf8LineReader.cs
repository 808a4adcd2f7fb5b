namespace RecsysEmbed.Data.Readers;

/// <summary>
/// Buffered line reader over raw UTF-8 bytes that knows the byte offset of the next line, so readers can
/// checkpoint and seek. Lines end at LF; a CR before the LF is dropped (CRLF and LF files both work); the last
/// line may lack its LF. A UTF-8 byte-order mark at offset 0 is skipped.
/// <code>
///   buffer   [ consumed | line ... \n | next line ... | (free) ]
///                       ^ _start                        ^ _end
///   Position = _bufferOffset + _start   (file offset of the next unread byte)
/// </code>
/// A returned line is a view into the buffer, valid until the next call. The buffer doubles when one line does
/// not fit.
/// </summary>
internal sealed class Utf8LineReader : IDisposable
{
    private readonly Stream _stream;
    private byte[] _buffer;
    private int _start, _end;
    private long _bufferOffset;
    private bool _eof;

    public Utf8LineReader(Stream stream, int bufferBytes)
    {
        _stream = stream;
        _buffer = new byte[bufferBytes];
        _bufferOffset = stream.CanSeek ? stream.Position : 0;
        if (_bufferOffset == 0) SkipByteOrderMark();
    }

    /// <summary>File offset of the next unread line.</summary>
    public long Position => _bufferOffset + _start;

    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        int searched = 0;
        while (true)
        {
            var pending = _buffer.AsSpan(_start, _end - _start);
            int nl = pending[searched..].IndexOf((byte)'\n');
            if (nl >= 0)
            {
                nl += searched;
                line = TrimCarriageReturn(pending[..nl]);
                _start += nl + 1;
                return true;
            }
            if (_eof)
            {
                if (pending.IsEmpty)
                {
                    line = default;
                    return false;
                }
                line = TrimCarriageReturn(pending);
                _start = _end;
                return true;
            }
            searched = pending.Length;
            Fill();
        }
    }

    /// <summary>Moves to a byte offset (which must be the start of a line).</summary>
    public void Seek(long offset)
    {
        if (!_stream.CanSeek) throw new NotSupportedException("resuming needs a seekable stream.");
        _stream.Seek(offset, SeekOrigin.Begin);
        _bufferOffset = offset;
        _start = _end = 0;
        _eof = false;
        if (offset == 0) SkipByteOrderMark();
    }

    public void Dispose() => _stream.Dispose();

    private static ReadOnlySpan<byte> TrimCarriageReturn(ReadOnlySpan<byte> line) =>
        line.Length > 0 && line[^1] == (byte)'\r' ? line[..^1] : line;

    private void Fill()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _bufferOffset += _start;
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
        int n = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (n == 0) _eof = true;
        else _end += n;
    }

    private void SkipByteOrderMark()
    {
        while (_end < 3 && !_eof) Fill();
        if (_end >= 3 && _buffer[0] == 0xEF && _buffer[1] == 0xBB && _buffer[2] == 0xBF) _start = 3;
    }
}
