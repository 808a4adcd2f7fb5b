using System.Globalization;

namespace RecsysEmbed.Core.Config;

/// <summary>
/// Byte counts as written in configs: a plain integer (bytes) or a number with a unit, binary
/// (KiB, MiB, GiB, TiB = 1024^k) or decimal (KB, MB, GB, TB = 1000^k); B is bytes. Units are case-insensitive and
/// may follow a space; fractions are rounded down to whole bytes ("1.5KiB" = 1536).
/// </summary>
public static class ByteSize
{
    private static readonly (string Unit, long Factor)[] Units =
    [
        ("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("TiB", 1L << 40),
        ("KB", 1_000L), ("MB", 1_000_000L), ("GB", 1_000_000_000L), ("TB", 1_000_000_000_000L),
        ("B", 1L),
    ];

    public const string Expected = "expected bytes as an integer or with a KiB/MiB/GiB/TiB or KB/MB/GB/TB suffix, e.g. 64MiB";

    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text)) return false;
        string s = text.Trim();
        long factor = 1;
        foreach (var (unit, f) in Units)
        {
            if (s.EndsWith(unit, StringComparison.OrdinalIgnoreCase))
            {
                factor = f;
                s = s[..^unit.Length].TrimEnd();
                break;
            }
        }
        if (s.Length == 0 || !char.IsAsciiDigit(s[0]) && s[0] != '.') return false;
        if (factor == 1)
            return long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out bytes);
        if (!decimal.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal number)) return false;
        decimal value = decimal.Floor(number * factor);
        if (value > long.MaxValue) return false;
        bytes = (long)value;
        return true;
    }

    /// <summary>Human form with binary units, one decimal: 1536 -> "1.5 KiB".</summary>
    public static string Format(long bytes)
    {
        string[] names = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double v = bytes;
        int k = 0;
        while (Math.Abs(v) >= 1024 && k < names.Length - 1)
        {
            v /= 1024;
            k++;
        }
        return k == 0 ? $"{bytes} B" : v.ToString("0.0", CultureInfo.InvariantCulture) + " " + names[k];
    }
}
