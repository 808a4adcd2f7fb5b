using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Training.Checkpoints;

/// <summary>
/// Writes one checkpoint: everything needed to resume training at <see cref="Step"/>. Entries are streamed to
/// disk as they are added (matrices in chunks of <see cref="CheckpointWriterOptions.ChunkBytes"/>, never as one
/// array); <see cref="Commit"/> publishes them atomically:
/// <code>
///   new CheckpointWriter(DIR, step)   take DIR/.lock, create DIR/.tmp-&lt;guid&gt;/
///   Add...(name, ...)                 write DIR/.tmp-&lt;guid&gt;/NNNN-name.bin, hash while writing, fsync
///   Commit()                          1. write manifest.json, fsync it and the temp directory
///                                     2. rename .tmp-&lt;guid&gt; to ckpt-&lt;step&gt;, fsync DIR
///                                     3. write .LATEST.tmp-&lt;guid&gt;, fsync, rename over LATEST, fsync DIR
///                                     4. retention: delete checkpoints beyond KeepLast, and leftovers of crashes
///   Dispose() without Commit          delete the temp directory: nothing was published
/// </code>
/// A crash before step 2 leaves only a .tmp directory, which readers never look at; between 2 and 3, a complete
/// ckpt-&lt;step&gt; that LATEST does not name yet (readers still open the previous one); after 3, the new one.
/// Old checkpoints are deleted only in step 4, after the new one is durable. If ckpt-&lt;step&gt; already exists
/// (a run resumed from an older checkpoint reaches the same step again) it is replaced; if LATEST named it, a
/// crash during the replacement leaves LATEST naming a missing directory, which fallBackToPrevious gets past.
/// <para>One writer per directory at a time (the lock enforces it); readers need no lock. Matrices, tensors and
/// modules must not change while they are being added: call between training steps.</para>
/// </summary>
public sealed partial class CheckpointWriter : IDisposable
{
    private readonly CheckpointWriterOptions _options;
    private readonly FileStream _lock;
    private readonly string _tempPath;
    private readonly List<CheckpointEntry> _entries = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private bool _committed, _disposed;

    /// <param name="directory">The checkpoint directory (created if missing).</param>
    /// <param name="step">Training step this checkpoint resumes from; names the directory ckpt-&lt;step&gt;.</param>
    /// <exception cref="CheckpointException">WriteFailed: another writer holds the directory's lock.</exception>
    public CheckpointWriter(string directory, long step, CheckpointWriterOptions? options = null)
    {
        if (step < 0) ThrowHelper.OutOfRange(nameof(step), step, "step must be >= 0.");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("checkpoints are written little-endian; this host is big-endian.");
        _options = options ?? new CheckpointWriterOptions();
        _options.Validate();
        Root = Path.GetFullPath(directory);
        Step = step;
        Directory.CreateDirectory(Root);
        string lockPath = Path.Combine(Root, CheckpointLayout.LockFile);
        try
        {
            _lock = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new CheckpointException(CheckpointProblem.WriteFailed, lockPath, "another checkpoint writer holds this directory's lock.", e);
        }
        _tempPath = Path.Combine(Root, CheckpointLayout.TempPrefix + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(_tempPath);
        }
        catch
        {
            _lock.Dispose();
            throw;
        }
    }

    /// <summary>Full path of the checkpoint directory.</summary>
    public string Root { get; }

    public long Step { get; }

    /// <summary>
    /// Checkpoint-wide metadata written into the manifest: RNG state, data position (file offset or Kafka
    /// partition offsets), config hash, anything JSON. Fill it directly or with <see cref="SetMetadata{T}"/>.
    /// </summary>
    public JsonObject Metadata { get; } = [];

    /// <summary>Entries added so far, in order.</summary>
    public IReadOnlyList<CheckpointEntry> Entries => _entries;

    /// <summary>Stores <paramref name="value"/> serialised by System.Text.Json under <paramref name="key"/> in <see cref="Metadata"/>.</summary>
    public void SetMetadata<T>(string key, T value) => Metadata[key] = JsonSerializer.SerializeToNode(value);

    /// <summary>Adds opaque bytes.</summary>
    public void AddBytes(string name, ReadOnlySpan<byte> data, JsonObject? metadata = null)
    {
        using var stream = BeginEntry(name, out string file);
        try
        {
            stream.Write(data);
            EndEntry(stream, name, CheckpointEntryKind.Bytes, file, metadata);
        }
        catch
        {
            AbortEntry(stream, name, file);
            throw;
        }
    }

    /// <summary>Adds the rest of <paramref name="source"/>, copied in chunks.</summary>
    public void AddStream(string name, Stream source, JsonObject? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        AddEntry(name, target => source.CopyTo(target, _options.ChunkBytes), metadata);
    }

    /// <summary>
    /// Adds an entry written by <paramref name="write"/> into a write-only stream (for custom formats). If it
    /// throws, the partial file is deleted and no entry is recorded.
    /// </summary>
    public void AddEntry(string name, Action<Stream> write, JsonObject? metadata = null) =>
        AddEntryOfKind(name, CheckpointEntryKind.Bytes, write, metadata);

    /// <summary>Adds float32 values (little-endian); metadata records the count.</summary>
    public void AddFloats(string name, ReadOnlySpan<float> values, JsonObject? metadata = null)
    {
        var meta = Clone(metadata);
        meta["count"] = values.Length;
        using var stream = BeginEntry(name, out string file);
        try
        {
            stream.Write(MemoryMarshal.AsBytes(values));
            EndEntry(stream, name, CheckpointEntryKind.Floats, file, meta);
        }
        catch
        {
            AbortEntry(stream, name, file);
            throw;
        }
    }

    /// <summary>
    /// Adds an embedding matrix with everything needed to resume its optimizer: weights, optimizer state and
    /// step count. Written row by row through a scratch buffer of at most ChunkBytes (plus one row), so a matrix
    /// of many GiB needs no large array. File: Rows*Dim weights, then Rows*StateWidth state, float32 LE.
    /// </summary>
    public void AddMatrix(string name, EmbeddingMatrix matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var meta = new JsonObject
        {
            ["matrix"] = matrix.Name,
            ["rows"] = matrix.Rows,
            ["dim"] = matrix.Dim,
            ["stateWidth"] = matrix.StateWidth,
            ["optimizer"] = matrix.Optimizer.Kind.ToString(),
            ["stepCount"] = matrix.StepCount,
        };
        AddEntryOfKind(name, CheckpointEntryKind.Matrix, stream =>
        {
            WriteRows(stream, matrix.Rows, matrix.Dim, matrix.Row);
            if (matrix.StateWidth > 0) WriteRows(stream, matrix.Rows, matrix.StateWidth, matrix.StateRow);
        }, meta);
    }

    /// <summary>
    /// Adds every matrix of a table as "tables/&lt;matrix name&gt;", or a low-precision table as one entry
    /// "tables/&lt;table name&gt;" (see <see cref="CheckpointReader.RestoreTable"/>).
    /// </summary>
    public void AddTable(IEmbeddingTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table is LowPrecisionTable lowPrecision)
        {
            AddLowPrecisionTable(TableEntryName(lowPrecision), lowPrecision);
            return;
        }
        // A future family without fp32 matrices would otherwise be left out silently and lost on resume.
        if (table.Matrices.Count == 0)
            throw new NotSupportedException($"table '{table.Name}' (family {table.Family}) stores no fp32 matrices; checkpoints do not cover this family yet.");
        foreach (var m in table.Matrices) AddMatrix(TableEntryName(m), m);
    }

    internal static string TableEntryName(EmbeddingMatrix m) => "tables/" + m.Name;

    internal static string TableEntryName(LowPrecisionTable t) => "tables/" + t.Name;

    private delegate Span<float> RowAccessor(long row);

    private void WriteRows(Stream stream, long rows, int width, RowAccessor row)
    {
        int rowBytes = checked(width * sizeof(float));
        int rowsPerChunk = Math.Max(1, _options.ChunkBytes / rowBytes);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(checked(rowsPerChunk * rowBytes));
        try
        {
            for (long start = 0; start < rows; start += rowsPerChunk)
            {
                int count = (int)Math.Min(rowsPerChunk, rows - start);
                for (int i = 0; i < count; i++)
                    MemoryMarshal.AsBytes(row(start + i)).CopyTo(buffer.AsSpan(i * rowBytes, rowBytes));
                stream.Write(buffer, 0, count * rowBytes);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Publishes the checkpoint (see the class summary for the order of operations), applies retention and
    /// releases the directory lock. Returns the manifest's view of what was written.
    /// </summary>
    public CheckpointInfo Commit()
    {
        ThrowIfDone();
        var manifest = new CheckpointManifest { Step = Step, CreatedUtc = DateTimeOffset.UtcNow, Metadata = Metadata, Entries = _entries };
        using (var file = new FileStream(Path.Combine(_tempPath, CheckpointLayout.ManifestFile), FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            file.Write(manifest.Serialize());
            file.Flush(flushToDisk: true);
        }
        CheckpointLayout.FsyncDirectory(_tempPath);

        string final = Path.Combine(Root, CheckpointLayout.DirectoryName(Step));
        if (Directory.Exists(final)) CheckpointLayout.RetireDirectory(Root, final);
        Directory.Move(_tempPath, final); // rename(2): the checkpoint appears whole or not at all
        CheckpointLayout.FsyncDirectory(Root);
        CheckpointLayout.WriteLatest(Root, Step);
        _committed = true;

        List<long> deleted;
        try
        {
            deleted = ApplyRetention();
            RemoveLeftovers();
        }
        finally
        {
            _lock.Dispose();
        }
        long bytes = 0;
        foreach (var e in _entries) bytes += e.Length;
        return new CheckpointInfo(Step, final, _entries.Count, bytes, deleted);
    }

    /// <summary>
    /// Keeps the newest KeepLast checkpoints at or below this step; checkpoints of higher steps (left by a run
    /// that was rewound to an older checkpoint) are neither counted nor touched, and readers ignore them.
    /// </summary>
    private List<long> ApplyRetention()
    {
        var older = CheckpointLayout.Steps(Root).Where(s => s < Step).OrderDescending().Skip(_options.KeepLast - 1).ToList();
        foreach (long s in older)
            CheckpointLayout.RetireDirectory(Root, Path.Combine(Root, CheckpointLayout.DirectoryName(s)));
        return older;
    }

    /// <summary>Removes temp directories and files left by crashed writers (safe: this writer holds the lock).</summary>
    private void RemoveLeftovers()
    {
        foreach (var dir in Directory.EnumerateDirectories(Root))
        {
            string name = Path.GetFileName(dir);
            if (name.StartsWith(CheckpointLayout.TempPrefix, StringComparison.Ordinal) || name.StartsWith(CheckpointLayout.OldPrefix, StringComparison.Ordinal))
                Directory.Delete(dir, recursive: true);
        }
        foreach (var file in Directory.EnumerateFiles(Root, CheckpointLayout.LatestTempPrefix + "*"))
            File.Delete(file);
    }

    private void AddEntryOfKind(string name, string kind, Action<Stream> write, JsonObject? metadata)
    {
        ArgumentNullException.ThrowIfNull(write);
        using var stream = BeginEntry(name, out string file);
        try
        {
            write(stream);
            EndEntry(stream, name, kind, file, metadata);
        }
        catch
        {
            AbortEntry(stream, name, file);
            throw;
        }
    }

    /// <summary>Forgets a half-written entry: the file goes, the name may be used again.</summary>
    private void AbortEntry(EntryWriteStream stream, string name, string file)
    {
        stream.Dispose();
        _names.Remove(name);
        File.Delete(Path.Combine(_tempPath, file));
    }

    private EntryWriteStream BeginEntry(string name, out string file)
    {
        ThrowIfDone();
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (_names.Contains(name)) ThrowHelper.Argument(nameof(name), $"entry '{name}' was already added to checkpoint step {Step}; names must be unique.");
        file = FileName(_entries.Count, name);
        var stream = new EntryWriteStream(Path.Combine(_tempPath, file));
        _names.Add(name);
        return stream;
    }

    private void EndEntry(EntryWriteStream stream, string name, string kind, string file, JsonObject? metadata)
    {
        var (length, checksum) = stream.Complete();
        _entries.Add(new CheckpointEntry(name, kind, file, length, checksum, Clone(metadata)));
    }

    /// <summary>"NNNN-" + the name with characters outside [A-Za-z0-9._-] replaced by '_', cut to 64 characters.</summary>
    private static string FileName(int index, string name)
    {
        var sb = new StringBuilder(index.ToString("D4", CultureInfo.InvariantCulture)).Append('-');
        foreach (char c in name.Length <= 64 ? name : name[..64])
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '_');
        return sb.Append(".bin").ToString();
    }

    private static JsonObject Clone(JsonObject? metadata) => metadata is null ? [] : (JsonObject)metadata.DeepClone();

    private void ThrowIfDone()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_committed) throw new InvalidOperationException($"checkpoint step {Step} was already committed; start a new CheckpointWriter.");
    }

    /// <summary>Without a commit, deletes the temp directory: the checkpoint is abandoned and nothing changes.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_committed && Directory.Exists(_tempPath)) Directory.Delete(_tempPath, recursive: true);
        _lock.Dispose();
    }
}

/// <summary>What <see cref="CheckpointWriter.Commit"/> published and which older steps retention deleted.</summary>
public sealed record CheckpointInfo(long Step, string Path, int Entries, long Bytes, IReadOnlyList<long> DeletedSteps);
