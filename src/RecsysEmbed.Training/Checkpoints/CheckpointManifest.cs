using System.Buffers;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RecsysEmbed.Training.Checkpoints;

/// <summary>
/// manifest.json: what a checkpoint holds and how to check it.
/// <code>
///   {
///     "format": "recsys-embed-checkpoint",
///     "formatVersion": 1,
///     "step": 1200,
///     "createdUtc": "2025-01-31T12:00:00.0000000+00:00",
///     "metadata": { ... caller's JSON: RNG state, data position, config hash ... },
///     "entries": [
///       { "name": "tables/user", "kind": "matrix", "file": "0000-tables_user.bin",
///         "length": 4096, "checksum": "xxh128:9f0c...", "metadata": { "rows": 16, "dim": 8, ... } }
///     ],
///     "manifestChecksum": "xxh128:&lt;32 hex&gt;"
///   }
/// </code>
/// Entry checksums cover the data files; manifestChecksum covers the manifest itself (so a flipped digit in a
/// shape or a data offset is caught too): it is the XxHash128 of the file's exact bytes with its own 32 hex
/// digits replaced by '0'. It is always the last property, written in the form shown.
/// </summary>
internal sealed class CheckpointManifest
{
    public const string Format = "recsys-embed-checkpoint";
    public const int FormatVersion = 1;
    private const string ChecksumPrefix = "xxh128:";
    private const int HexDigits = 32;
    private static readonly byte[] ChecksumMarker = Encoding.UTF8.GetBytes("\"manifestChecksum\": \"" + ChecksumPrefix);

    public required long Step { get; init; }
    public required DateTimeOffset CreatedUtc { get; init; }
    public required JsonObject Metadata { get; init; }
    public required IReadOnlyList<CheckpointEntry> Entries { get; init; }

    public static string ChecksumOf(XxHash128 hash) => ChecksumPrefix + Convert.ToHexStringLower(hash.GetCurrentHash());

    public byte[] Serialize()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var options = new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var w = new Utf8JsonWriter(buffer, options))
        {
            w.WriteStartObject();
            w.WriteString("format", Format);
            w.WriteNumber("formatVersion", FormatVersion);
            w.WriteNumber("step", Step);
            w.WriteString("createdUtc", CreatedUtc.ToString("O", CultureInfo.InvariantCulture));
            w.WritePropertyName("metadata");
            Metadata.WriteTo(w);
            w.WriteStartArray("entries");
            foreach (var e in Entries)
            {
                w.WriteStartObject();
                w.WriteString("name", e.Name);
                w.WriteString("kind", e.Kind);
                w.WriteString("file", e.File);
                w.WriteNumber("length", e.Length);
                w.WriteString("checksum", e.Checksum);
                w.WritePropertyName("metadata");
                e.Metadata.WriteTo(w);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("manifestChecksum", ChecksumPrefix + new string('0', HexDigits));
            w.WriteEndObject();
        }
        byte[] bytes = buffer.WrittenSpan.ToArray();
        int digits = bytes.AsSpan().LastIndexOf(ChecksumMarker) + ChecksumMarker.Length;
        string hex = Convert.ToHexStringLower(XxHash128.Hash(bytes));
        Encoding.ASCII.GetBytes(hex, bytes.AsSpan(digits, HexDigits));
        return bytes;
    }

    /// <summary>Parses and checks a manifest: JSON, format, version, own checksum, then every field's type.</summary>
    /// <exception cref="CheckpointException">BadManifest, UnsupportedVersion or ChecksumMismatch, naming <paramref name="path"/>.</exception>
    public static CheckpointManifest Parse(byte[] bytes, string path)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(bytes) as JsonObject ?? throw Bad(path, "manifest is not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new CheckpointException(CheckpointProblem.BadManifest, path, $"bad manifest JSON: {e.Message}", e);
        }

        // Format and version first: a later version may check itself differently.
        string format = Get<string>(root, "format", path, "");
        if (format != Format) throw Bad(path, $"format is '{CheckpointLayout.Shorten(format)}', expected '{Format}'.");
        long version = Get<long>(root, "formatVersion", path, "");
        if (version != FormatVersion)
            throw new CheckpointException(CheckpointProblem.UnsupportedVersion, path, $"formatVersion {version} is not supported; this build reads version {FormatVersion}.");

        VerifyOwnChecksum(bytes, path);

        long step = Get<long>(root, "step", path, "");
        string created = Get<string>(root, "createdUtc", path, "");
        if (!DateTimeOffset.TryParse(created, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var createdUtc))
            throw Bad(path, $"createdUtc '{CheckpointLayout.Shorten(created)}' is not a date.");
        var metadata = root["metadata"] as JsonObject ?? throw Bad(path, "metadata is missing or not an object.");
        var array = root["entries"] as JsonArray ?? throw Bad(path, "entries is missing or not an array.");

        var entries = new List<CheckpointEntry>(array.Count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var files = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < array.Count; i++)
        {
            string at = $"entries[{i}].";
            var e = array[i] as JsonObject ?? throw Bad(path, $"entries[{i}] is not an object.");
            string name = Get<string>(e, "name", path, at);
            string file = Get<string>(e, "file", path, at);
            long length = Get<long>(e, "length", path, at);
            string checksum = Get<string>(e, "checksum", path, at);
            if (!names.Add(name)) throw Bad(path, $"entry name '{name}' appears twice.");
            if (!IsPlainFileName(file) || !files.Add(file)) throw Bad(path, $"{at}file '{CheckpointLayout.Shorten(file)}' is not a plain, unique file name.");
            if (length < 0) throw Bad(path, $"{at}length is {length}.");
            if (!IsChecksum(checksum)) throw Bad(path, $"{at}checksum '{CheckpointLayout.Shorten(checksum)}' is not 'xxh128:' and 32 hex digits.");
            var entryMetadata = e["metadata"] as JsonObject ?? throw Bad(path, $"{at}metadata is missing or not an object.");
            entries.Add(new CheckpointEntry(name, Get<string>(e, "kind", path, at), file, length, checksum, entryMetadata));
        }
        return new CheckpointManifest { Step = step, CreatedUtc = createdUtc, Metadata = metadata, Entries = entries };
    }

    private static void VerifyOwnChecksum(byte[] bytes, string path)
    {
        int marker = bytes.AsSpan().LastIndexOf(ChecksumMarker);
        if (marker < 0) throw Bad(path, "manifestChecksum is missing.");
        int digits = marker + ChecksumMarker.Length;
        if (digits + HexDigits > bytes.Length) throw Bad(path, "manifestChecksum is cut short.");
        string stored = Encoding.ASCII.GetString(bytes, digits, HexDigits);
        var copy = (byte[])bytes.Clone();
        copy.AsSpan(digits, HexDigits).Fill((byte)'0');
        string actual = Convert.ToHexStringLower(XxHash128.Hash(copy));
        if (!string.Equals(stored, actual, StringComparison.OrdinalIgnoreCase))
            throw new CheckpointException(CheckpointProblem.ChecksumMismatch, path, $"checksum mismatch: manifest content hashes to xxh128:{actual}, manifestChecksum says xxh128:{stored}.");
    }

    private static T Get<T>(JsonObject obj, string field, string path, string at)
    {
        if (obj[field] is not JsonValue value) throw Bad(path, $"{at}{field} is missing or not a value.");
        try
        {
            return value.GetValue<T>();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw Bad(path, $"{at}{field} is not a {(typeof(T) == typeof(string) ? "string" : "whole number")}.");
        }
    }

    private static bool IsPlainFileName(string file) =>
        file.Length > 0 && file != "." && file != ".." && file != CheckpointLayout.ManifestFile
        && file.IndexOfAny(['/', '\\', '\0']) < 0;

    private static bool IsChecksum(string s) =>
        s.Length == ChecksumPrefix.Length + HexDigits && s.StartsWith(ChecksumPrefix, StringComparison.Ordinal)
        && !s.AsSpan(ChecksumPrefix.Length).ContainsAnyExcept("0123456789abcdefABCDEF");

    private static CheckpointException Bad(string path, string detail) => new(CheckpointProblem.BadManifest, path, detail);
}
