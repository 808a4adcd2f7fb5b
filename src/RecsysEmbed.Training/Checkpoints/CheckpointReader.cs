using System.Buffers;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Training.Checkpoints;

/// <summary>
/// Opens one checkpoint for restoring, after checking all of it: opening reads manifest.json (JSON, format,
/// version, its own checksum, step) and then every entry file (present, exact length, XxHash128), so a damaged
/// or truncated checkpoint is refused with a <see cref="CheckpointException"/> naming the file before anything
/// is loaded. Verification reads every byte once; restoring reads them again (usually from the page cache).
/// <code>
///   var ckpt = CheckpointReader.TryOpenLatest(dir, fallBackToPrevious: true);   // null: fresh start
///   if (ckpt is not null)
///   {
///       if (ckpt.FellBack) log(ckpt.Refused);                // newer checkpoints that were refused, and why
///       ckpt.RestoreTable(table);                            // weights (any family) + optimizer state + step count
///       ckpt.LoadStateDict("dense", model); ckpt.LoadOptimizer("dense_opt", adam);
///       var pos = ckpt.GetMetadata&lt;DataPosition&gt;("data");
///   }
/// </code>
/// The reader holds no file open between calls; it needs no lock. A writer keeping only one or two checkpoints
/// may delete this one while it is read: keep KeepLast &gt;= 2 when readers run beside training.
/// </summary>
public sealed partial class CheckpointReader
{
    private readonly CheckpointManifest _manifest;
    private readonly Dictionary<string, CheckpointEntry> _byName;

    private CheckpointReader(string root, string path, CheckpointManifest manifest, IReadOnlyList<CheckpointException> refused)
    {
        Root = root;
        Path = path;
        _manifest = manifest;
        Refused = refused;
        _byName = manifest.Entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
    }

    /// <summary>Full path of the checkpoint directory (the parent of ckpt-&lt;step&gt;).</summary>
    public string Root { get; }

    /// <summary>Full path of this checkpoint, DIR/ckpt-&lt;step&gt;.</summary>
    public string Path { get; }

    public long Step => _manifest.Step;
    public DateTimeOffset CreatedUtc => _manifest.CreatedUtc;

    /// <summary>Checkpoint-wide metadata as the writer stored it. Treat as read-only.</summary>
    public JsonObject Metadata => _manifest.Metadata;

    public IReadOnlyList<CheckpointEntry> Entries => _manifest.Entries;

    /// <summary>Newer checkpoints refused on the way to this one (newest first), each with its reason; empty when none.</summary>
    public IReadOnlyList<CheckpointException> Refused { get; }

    /// <summary>True when this is not the checkpoint LATEST names: a newer one was refused and this older one opened.</summary>
    public bool FellBack => Refused.Count > 0;

    /// <summary>Bytes read per I/O call while verifying and restoring.</summary>
    internal int ChunkBytes { get; set; } = 4 << 20;

    /// <summary>Steps of the checkpoint directories in <paramref name="directory"/>, ascending (not verified).</summary>
    public static IReadOnlyList<long> ListSteps(string directory) => CheckpointLayout.Steps(System.IO.Path.GetFullPath(directory));

    /// <summary>Opens the checkpoint LATEST names; see <see cref="TryOpenLatest"/>.</summary>
    /// <exception cref="CheckpointException">NotFound when the directory holds no checkpoint, or any problem of the checkpoint.</exception>
    public static CheckpointReader OpenLatest(string directory, bool fallBackToPrevious = false)
    {
        string root = System.IO.Path.GetFullPath(directory);
        return TryOpenLatest(root, fallBackToPrevious)
            ?? throw new CheckpointException(CheckpointProblem.NotFound, root, "no checkpoint here (no LATEST and no ckpt-<step> directory).");
    }

    /// <summary>
    /// Opens the checkpoint LATEST names, or returns null when <paramref name="directory"/> holds no checkpoint at
    /// all (a fresh run). A damaged checkpoint throws, unless <paramref name="fallBackToPrevious"/>: then the
    /// checkpoints older than LATEST's are tried newest first and the first good one is returned, with the
    /// refused ones in <see cref="Refused"/>. Directories of steps above LATEST's (written but never committed
    /// to LATEST) are not considered. Without a LATEST file, every checkpoint directory is a candidate.
    /// </summary>
    public static CheckpointReader? TryOpenLatest(string directory, bool fallBackToPrevious = false)
    {
        string root = System.IO.Path.GetFullPath(directory);
        if (!Directory.Exists(root)) return null;
        var steps = CheckpointLayout.Steps(root);
        var refused = new List<CheckpointException>();
        long? latest;
        try
        {
            latest = CheckpointLayout.ReadLatest(root);
        }
        catch (CheckpointException e) when (fallBackToPrevious)
        {
            refused.Add(e);
            latest = null;
        }

        if (!fallBackToPrevious)
        {
            if (latest is { } step) return OpenVerified(root, step, refused);
            if (steps.Count == 0) return null;
            throw new CheckpointException(CheckpointProblem.NotFound, System.IO.Path.Combine(root, CheckpointLayout.LatestFile),
                $"LATEST is missing but checkpoint directories exist (steps {string.Join(", ", steps)}); open with fallBackToPrevious to take the newest good one.");
        }

        var candidates = new List<long>();
        if (latest is { } named) candidates.Add(named);
        candidates.AddRange(steps.Where(s => latest is null || s < latest).OrderDescending());
        if (candidates.Count == 0 && refused.Count == 0) return null;
        foreach (long step in candidates)
        {
            try
            {
                return OpenVerified(root, step, refused);
            }
            catch (CheckpointException e)
            {
                refused.Add(e);
            }
        }
        throw new CheckpointException(CheckpointProblem.NotFound, root,
            $"no good checkpoint: {string.Join("; ", refused.Select(e => e.Message))}");
    }

    /// <summary>Opens the checkpoint of one step (no fallback).</summary>
    /// <exception cref="CheckpointException">NotFound, or any problem of that checkpoint.</exception>
    public static CheckpointReader Open(string directory, long step) =>
        OpenVerified(System.IO.Path.GetFullPath(directory), step, []);

    private static CheckpointReader OpenVerified(string root, long step, List<CheckpointException> refused)
    {
        string dir = System.IO.Path.Combine(root, CheckpointLayout.DirectoryName(step));
        if (!Directory.Exists(dir)) throw new CheckpointException(CheckpointProblem.NotFound, dir, "checkpoint directory does not exist.");
        string manifestPath = System.IO.Path.Combine(dir, CheckpointLayout.ManifestFile);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(manifestPath);
        }
        catch (FileNotFoundException e)
        {
            throw new CheckpointException(CheckpointProblem.MissingFile, manifestPath, "missing manifest.json (checkpoint incomplete or damaged).", e);
        }
        var manifest = CheckpointManifest.Parse(bytes, manifestPath);
        if (manifest.Step != step)
            throw new CheckpointException(CheckpointProblem.BadManifest, manifestPath, $"step is {manifest.Step} but the directory is {CheckpointLayout.DirectoryName(step)}.");
        var reader = new CheckpointReader(root, dir, manifest, refused.ToArray());
        foreach (var entry in manifest.Entries) reader.VerifyFile(entry);
        return reader;
    }

    private void VerifyFile(CheckpointEntry entry)
    {
        string path = FilePath(entry);
        var info = new FileInfo(path);
        if (!info.Exists) throw new CheckpointException(CheckpointProblem.MissingFile, path, $"missing file of entry '{entry.Name}'.");
        if (info.Length != entry.Length)
            throw new CheckpointException(CheckpointProblem.LengthMismatch, path,
                $"length mismatch: {info.Length} bytes on disk, manifest says {entry.Length} (entry '{entry.Name}'{(info.Length < entry.Length ? ", truncated" : "")}).");
        var hash = new XxHash128();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            using var file = OpenFile(path);
            int read;
            while ((read = file.Read(buffer, 0, ChunkBytes)) > 0) hash.Append(buffer.AsSpan(0, read));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        string actual = CheckpointManifest.ChecksumOf(hash);
        if (!string.Equals(actual, entry.Checksum, StringComparison.OrdinalIgnoreCase))
            throw new CheckpointException(CheckpointProblem.ChecksumMismatch, path, $"checksum mismatch: file hashes to {actual}, manifest says {entry.Checksum} (entry '{entry.Name}').");
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <exception cref="CheckpointException">MissingEntry.</exception>
    public CheckpointEntry Entry(string name)
    {
        if (_byName.TryGetValue(name, out var entry)) return entry;
        throw new CheckpointException(CheckpointProblem.MissingEntry, Path,
            $"no entry '{name}' (entries: {CheckpointLayout.Shorten(string.Join(", ", _byName.Keys))}).");
    }

    private CheckpointEntry Entry(string name, string kind)
    {
        var entry = Entry(name);
        if (entry.Kind != kind)
            throw new CheckpointException(CheckpointProblem.MissingEntry, FilePath(entry), $"entry '{name}' is of kind '{entry.Kind}', not '{kind}'.");
        return entry;
    }

    /// <summary>Metadata value <paramref name="key"/> deserialised by System.Text.Json.</summary>
    /// <exception cref="CheckpointException">MissingEntry when the key is absent; BadManifest when it does not deserialise to T.</exception>
    public T GetMetadata<T>(string key)
    {
        if (!Metadata.TryGetPropertyValue(key, out var node))
            throw new CheckpointException(CheckpointProblem.MissingEntry, ManifestPath, $"metadata has no '{key}'.");
        try
        {
            return node.Deserialize<T>()!;
        }
        catch (JsonException e)
        {
            throw new CheckpointException(CheckpointProblem.BadManifest, ManifestPath, $"metadata '{key}' is not a {typeof(T).Name}: {e.Message}", e);
        }
    }

    /// <summary>A read-only stream over an entry's file (any kind). The caller disposes it.</summary>
    public Stream OpenRead(string name) => OpenEntry(Entry(name));

    /// <summary>An entry's bytes, as one array (for small entries).</summary>
    public byte[] ReadBytes(string name)
    {
        var entry = Entry(name);
        if (entry.Length > Array.MaxLength)
            throw new CheckpointException(CheckpointProblem.ShapeMismatch, FilePath(entry), $"entry '{name}' has {entry.Length} bytes, too many for one array; use OpenRead.");
        var bytes = new byte[entry.Length];
        using var stream = OpenEntry(entry);
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>A float entry's values.</summary>
    public float[] ReadFloats(string name)
    {
        var entry = Entry(name, CheckpointEntryKind.Floats);
        var values = new float[FloatCount(entry)];
        ReadFloats(name, values);
        return values;
    }

    /// <summary>Reads a float entry into <paramref name="destination"/>, whose length must equal the entry's count.</summary>
    public void ReadFloats(string name, Span<float> destination)
    {
        var entry = Entry(name, CheckpointEntryKind.Floats);
        long count = FloatCount(entry);
        if (destination.Length != count)
            throw new CheckpointException(CheckpointProblem.ShapeMismatch, FilePath(entry), $"entry '{name}' holds {count} floats, destination has room for {destination.Length}.");
        using var stream = OpenEntry(entry);
        stream.ReadExactly(MemoryMarshal.AsBytes(destination));
    }

    private long FloatCount(CheckpointEntry entry)
    {
        long count = MetaLong(entry, "count");
        if (count * sizeof(float) != entry.Length) throw BadEntry(entry, $"count {count} does not match {entry.Length} bytes.");
        return count;
    }

    /// <summary>
    /// Restores a matrix in place from an entry written by <see cref="CheckpointWriter.AddMatrix"/>: weights,
    /// and with <paramref name="includeOptimizerState"/> also optimizer state and step count. Rows and Dim must
    /// match (and the optimizer, when its state is restored); all checks run before the matrix is touched.
    /// Pass includeOptimizerState: false to start a new optimizer from trained weights.
    /// </summary>
    /// <exception cref="CheckpointException">MissingEntry or ShapeMismatch, naming the entry and the matrix.</exception>
    public void RestoreMatrix(string name, EmbeddingMatrix matrix, bool includeOptimizerState = true)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var layout = CheckMatrix(name, matrix, includeOptimizerState);
        RestoreMatrix(layout, matrix, includeOptimizerState);
    }

    /// <summary>
    /// Restores every matrix of a table (or a low-precision table's storage) from the entries
    /// <see cref="CheckpointWriter.AddTable"/> wrote; every matrix is checked before any is changed.
    /// </summary>
    public void RestoreTable(IEmbeddingTable table, bool includeOptimizerState = true)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table is LowPrecisionTable lowPrecision)
        {
            RestoreLowPrecisionTable(CheckpointWriter.TableEntryName(lowPrecision), lowPrecision, includeOptimizerState);
            return;
        }
        if (table.Matrices.Count == 0)
            throw new NotSupportedException($"table '{table.Name}' (family {table.Family}) stores no fp32 matrices; checkpoints do not cover this family yet.");
        var layouts = table.Matrices.Select(m => CheckMatrix(CheckpointWriter.TableEntryName(m), m, includeOptimizerState)).ToList();
        for (int i = 0; i < layouts.Count; i++) RestoreMatrix(layouts[i], table.Matrices[i], includeOptimizerState);
    }

    private readonly record struct MatrixLayout(CheckpointEntry Entry, long Rows, int Dim, int StateWidth, long StepCount);

    private MatrixLayout CheckMatrix(string name, EmbeddingMatrix matrix, bool includeOptimizerState)
    {
        var entry = Entry(name, CheckpointEntryKind.Matrix);
        long rows = MetaLong(entry, "rows");
        int dim = checked((int)MetaLong(entry, "dim"));
        int stateWidth = checked((int)MetaLong(entry, "stateWidth"));
        long stepCount = MetaLong(entry, "stepCount");
        string optimizer = MetaValue<string>(entry, entry.Metadata, "optimizer", "");
        if (rows <= 0 || dim <= 0 || stateWidth < 0 || (rows * dim + rows * stateWidth) * sizeof(float) != entry.Length)
            throw BadEntry(entry, $"rows {rows}, dim {dim} and stateWidth {stateWidth} do not match {entry.Length} bytes.");
        if (rows != matrix.Rows || dim != matrix.Dim)
            throw new CheckpointException(CheckpointProblem.ShapeMismatch, FilePath(entry),
                $"entry '{name}' is {rows} x {dim}, matrix '{matrix.Name}' is {matrix.Rows} x {matrix.Dim}; dims must match.");
        if (includeOptimizerState && (optimizer != matrix.Optimizer.Kind.ToString() || stateWidth != matrix.StateWidth))
            throw new CheckpointException(CheckpointProblem.ShapeMismatch, FilePath(entry),
                $"entry '{name}' holds {optimizer} state ({stateWidth} floats per row), matrix '{matrix.Name}' uses {matrix.Optimizer.Kind} ({matrix.StateWidth} per row); pass includeOptimizerState: false to restore the weights only.");
        return new MatrixLayout(entry, rows, dim, stateWidth, stepCount);
    }

    private void RestoreMatrix(in MatrixLayout layout, EmbeddingMatrix matrix, bool includeOptimizerState)
    {
        using var stream = OpenEntry(layout.Entry);
        ReadRows(stream, layout.Rows, layout.Dim, matrix.Row);
        if (!includeOptimizerState) return;
        if (layout.StateWidth > 0) ReadRows(stream, layout.Rows, layout.StateWidth, matrix.StateRow);
        matrix.SetStepCount(layout.StepCount);
    }

    private delegate Span<float> RowAccessor(long row);

    private void ReadRows(Stream stream, long rows, int width, RowAccessor row)
    {
        int rowBytes = checked(width * sizeof(float));
        int rowsPerChunk = Math.Max(1, ChunkBytes / rowBytes);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(checked(rowsPerChunk * rowBytes));
        try
        {
            for (long start = 0; start < rows; start += rowsPerChunk)
            {
                int count = (int)Math.Min(rowsPerChunk, rows - start);
                stream.ReadExactly(buffer, 0, count * rowBytes);
                for (int i = 0; i < count; i++)
                    buffer.AsSpan(i * rowBytes, rowBytes).CopyTo(MemoryMarshal.AsBytes(row(start + i)));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private string ManifestPath => System.IO.Path.Combine(Path, CheckpointLayout.ManifestFile);

    private string FilePath(CheckpointEntry entry) => System.IO.Path.Combine(Path, entry.File);

    /// <summary>Opens an entry's file, re-checking its length (it was verified at open; this catches later damage).</summary>
    private FileStream OpenEntry(CheckpointEntry entry)
    {
        string path = FilePath(entry);
        FileStream file;
        try
        {
            file = OpenFile(path);
        }
        catch (FileNotFoundException e)
        {
            throw new CheckpointException(CheckpointProblem.MissingFile, path, $"file of entry '{entry.Name}' disappeared after the checkpoint was opened.", e);
        }
        if (file.Length != entry.Length)
        {
            long length = file.Length;
            file.Dispose();
            throw new CheckpointException(CheckpointProblem.LengthMismatch, path, $"length mismatch: {length} bytes on disk, manifest says {entry.Length} (changed after the checkpoint was opened).");
        }
        return file;
    }

    private static FileStream OpenFile(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);

    private long MetaLong(CheckpointEntry entry, string key) => MetaValue<long>(entry, entry.Metadata, key, "");

    private T MetaValue<T>(CheckpointEntry entry, JsonObject obj, string key, string at)
    {
        if (obj[key] is JsonValue node && node.TryGetValue<T>(out var value)) return value;
        string expected = typeof(T) == typeof(string) ? "string" : typeof(T) == typeof(bool) ? "boolean" : "whole number";
        throw BadEntry(entry, $"{at}{key} is missing or not a {expected}.");
    }

    private CheckpointException BadEntry(CheckpointEntry entry, string detail) =>
        new(CheckpointProblem.BadManifest, ManifestPath, $"entry '{entry.Name}': {detail}");
}
