using System.Globalization;
using System.Text;

namespace RecsysEmbed.Data.Readers;

/// <summary>Small helpers over UTF-8 field bytes: splitting, strict number parsing, and values for messages.</summary>
internal static class Utf8Fields
{
    private const NumberStyles IntegerStyle = NumberStyles.AllowLeadingSign;
    private const NumberStyles FloatStyle = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;
    private const int MaxMessageBytes = 96;

    /// <summary>
    /// Splits on <paramref name="delimiter"/> and records field i as [starts[i], ends[i]) for the first
    /// starts.Length fields; returns the total number of fields (which may be larger).
    /// </summary>
    public static int Split(ReadOnlySpan<byte> line, byte delimiter, Span<int> starts, Span<int> ends)
    {
        int count = 0, pos = 0;
        while (true)
        {
            int rel = line[pos..].IndexOf(delimiter);
            int end = rel < 0 ? line.Length : pos + rel;
            if (count < starts.Length)
            {
                starts[count] = pos;
                ends[count] = end;
            }
            count++;
            if (rel < 0) return count;
            pos = end + 1;
        }
    }

    /// <summary>As <see cref="Split(ReadOnlySpan{byte}, byte, Span{int}, Span{int})"/> with a multi-byte delimiter (MovieLens "::").</summary>
    public static int Split(ReadOnlySpan<byte> line, ReadOnlySpan<byte> delimiter, Span<int> starts, Span<int> ends)
    {
        int count = 0, pos = 0;
        while (true)
        {
            int rel = line[pos..].IndexOf(delimiter);
            int end = rel < 0 ? line.Length : pos + rel;
            if (count < starts.Length)
            {
                starts[count] = pos;
                ends[count] = end;
            }
            count++;
            if (rel < 0) return count;
            pos = end + delimiter.Length;
        }
    }

    public static bool TryParseInt64(ReadOnlySpan<byte> s, out long value) =>
        long.TryParse(s, IntegerStyle, CultureInfo.InvariantCulture, out value);

    /// <summary>A finite double (no whitespace, no thousands separators, no NaN or infinity).</summary>
    public static bool TryParseDouble(ReadOnlySpan<byte> s, out double value) =>
        double.TryParse(s, FloatStyle, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    /// <summary>The bytes as text for an error message, shortened when long.</summary>
    public static string ForMessage(ReadOnlySpan<byte> s) =>
        s.Length <= MaxMessageBytes
            ? Encoding.UTF8.GetString(s)
            : Encoding.UTF8.GetString(s[..MaxMessageBytes]) + $"... ({s.Length} bytes)";
}
