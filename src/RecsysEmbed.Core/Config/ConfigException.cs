using System.Globalization;

namespace RecsysEmbed.Core.Config;

/// <summary>
/// An invalid model config. The message starts with the YAML key path and names the offending value, e.g.
/// <c>tables[2].collisions: 1 is invalid: QR needs collisions &gt;= 2</c>, so a user can find the line to fix.
/// </summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string keyPath, string message, Exception? inner = null) : base(message, inner)
    {
        KeyPath = keyPath;
    }

    /// <summary>Path of the offending key, like <c>tables[2].collisions</c>; empty for the document itself.</summary>
    public string KeyPath { get; }

    internal static ConfigException Invalid(string keyPath, object? value, string reason) =>
        new(keyPath, $"{Display(keyPath)}: {Show(value)} is invalid: {reason}");

    internal static ConfigException Missing(string keyPath, string reason) =>
        new(keyPath, $"{Display(keyPath)}: missing: {reason}");

    internal static string Display(string keyPath) => keyPath.Length == 0 ? "(document)" : keyPath;

    /// <summary>A value as the user wrote it: strings quoted, numbers in invariant culture, lists in brackets.</summary>
    internal static string Show(object? value) => value switch
    {
        null => "null",
        string s => $"'{s}'",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        System.Collections.IEnumerable e => "[" + string.Join(", ", e.Cast<object?>().Select(Show)) + "]",
        _ => value.ToString() ?? "",
    };
}
