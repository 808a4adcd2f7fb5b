using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace RecsysEmbed.Training.Checkpoints;

/// <summary>
/// Names and durable file operations of a checkpoint directory:
/// <code>
///   DIR/
///     LATEST                 "ckpt-1200\n": the newest committed checkpoint (replaced by rename, never edited)
///     ckpt-1000/             older checkpoints kept by retention
///     ckpt-1200/
///       manifest.json        format version, step, metadata, one record per entry (file, length, checksum)
///       0000-tables_user.bin one file per entry, raw little-endian bytes
///     .tmp-&lt;guid&gt;/          a checkpoint being written (or left by a crash): never read, removed by the next commit
///     .old-&lt;guid&gt;/          a checkpoint being deleted or replaced: never read
///     .lock                  held by the one writer of DIR
/// </code>
/// </summary>
internal static partial class CheckpointLayout
{
    public const string ManifestFile = "manifest.json";
    public const string LatestFile = "LATEST";
    public const string LockFile = ".lock";
    public const string TempPrefix = ".tmp-";
    public const string OldPrefix = ".old-";
    public const string LatestTempPrefix = ".LATEST.tmp-";
    private const string DirectoryPrefix = "ckpt-";

    public static string DirectoryName(long step) => DirectoryPrefix + step.ToString(CultureInfo.InvariantCulture);

    /// <summary>Step of a "ckpt-&lt;step&gt;" name; rejects signs, leading zeros and anything else.</summary>
    public static bool TryParseStep(string name, out long step)
    {
        step = 0;
        if (!name.StartsWith(DirectoryPrefix, StringComparison.Ordinal)) return false;
        var digits = name.AsSpan(DirectoryPrefix.Length);
        if (digits.IsEmpty || (digits.Length > 1 && digits[0] == '0')) return false;
        foreach (char c in digits) if (c is < '0' or > '9') return false;
        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out step);
    }

    /// <summary>Steps of the committed-looking checkpoint directories in <paramref name="root"/>, ascending.</summary>
    public static List<long> Steps(string root)
    {
        var steps = new List<long>();
        if (!Directory.Exists(root)) return steps;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            if (TryParseStep(Path.GetFileName(dir), out long step)) steps.Add(step);
        }
        steps.Sort();
        return steps;
    }

    /// <summary>The step LATEST names, or null when there is no LATEST file.</summary>
    /// <exception cref="CheckpointException">LATEST exists but does not name a checkpoint directory.</exception>
    public static long? ReadLatest(string root)
    {
        string path = Path.Combine(root, LatestFile);
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        string name = text.Trim();
        if (!TryParseStep(name, out long step))
            throw new CheckpointException(CheckpointProblem.BadManifest, path, $"LATEST should hold a name like 'ckpt-1200', found '{Shorten(name)}'.");
        return step;
    }

    /// <summary>Replaces LATEST atomically: write a temp file, flush it to disk, rename it over LATEST, fsync DIR.</summary>
    public static void WriteLatest(string root, long step)
    {
        string temp = Path.Combine(root, LatestTempPrefix + Guid.NewGuid().ToString("N"));
        using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            file.Write(Encoding.UTF8.GetBytes(DirectoryName(step) + "\n"));
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, Path.Combine(root, LatestFile), overwrite: true); // rename(2): atomic replace
        FsyncDirectory(root);
    }

    /// <summary>
    /// Makes the directory's entries (created, renamed, deleted names) durable. Possible on Linux and macOS,
    /// where a directory can be opened and fsync'ed; elsewhere, or where the file system refuses, it is skipped:
    /// the rename order still guarantees a reader sees either the old or the new checkpoint, only durability
    /// across power loss is weaker.
    /// </summary>
    public static void FsyncDirectory(string path)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        // O_RDONLY (0) opens a directory on both; O_CLOEXEC differs per OS, so it is only set on Linux.
        int flags = OperatingSystem.IsLinux() ? 0x80000 : 0;
        int fd = Open(path, flags);
        if (fd < 0) return;
        _ = Fsync(fd);
        _ = Close(fd);
    }

    /// <summary>Deletes a directory by first renaming it to .old-&lt;guid&gt;, so no reader ever sees it half deleted.</summary>
    public static void RetireDirectory(string root, string path)
    {
        string old = Path.Combine(root, OldPrefix + Guid.NewGuid().ToString("N"));
        Directory.Move(path, old);
        FsyncDirectory(root);
        Directory.Delete(old, recursive: true);
    }

    public static string Shorten(string s) => s.Length <= 80 ? s : s[..80] + "...";

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
