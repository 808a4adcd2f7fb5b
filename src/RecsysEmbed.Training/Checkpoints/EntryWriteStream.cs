using System.IO.Hashing;

namespace RecsysEmbed.Training.Checkpoints;

/// <summary>
/// Write-only stream into one entry file that hashes (XxHash128) and counts every byte on the way, so the
/// checksum costs no second read. <see cref="Complete"/> flushes the file to disk (fsync).
/// </summary>
internal sealed class EntryWriteStream : Stream
{
    private readonly FileStream _file;
    private readonly XxHash128 _hash = new();
    private long _length;

    public EntryWriteStream(string path)
    {
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => _length;

    public override long Position
    {
        get => _length;
        set => throw new NotSupportedException("checkpoint entries are written front to back.");
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.Append(buffer);
        _file.Write(buffer);
        _length += buffer.Length;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush() => _file.Flush();

    /// <summary>Flushes to disk and returns the entry's length and checksum.</summary>
    public (long Length, string Checksum) Complete()
    {
        _file.Flush(flushToDisk: true);
        return (_length, CheckpointManifest.ChecksumOf(_hash));
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _file.Dispose();
        base.Dispose(disposing);
    }
}
