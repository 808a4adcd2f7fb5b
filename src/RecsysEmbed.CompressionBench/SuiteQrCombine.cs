using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.CompressionBench;

/// <summary>
/// How the qr method joins its partition vectors (<c>--qr-combine</c>), the three operations of Shi et al. 2020 and of
/// the DLRM reference's <c>--qr-operation</c>: mult (default, element-wise product), add (sum) or concat (side by
/// side, width 2 x dim). Only qr reads it; it is part of the run's identity.
/// </summary>
public static class SuiteQrCombine
{
    public static IReadOnlyList<string> Names { get; } = ["mult", "add", "concat"];

    /// <summary>The identity line of the QR combine, up to its value.</summary>
    public const string Key = "qr_combine=";

    public static string Name(this QrCombine combine) => combine switch
    {
        QrCombine.Multiply => "mult",
        QrCombine.Add => "add",
        QrCombine.Concat => "concat",
        _ => throw new ArgumentOutOfRangeException(nameof(combine), combine, "unknown QR combine"),
    };

    /// <summary>"mult", "add" or "concat"; anything else is a <see cref="SuiteInputException"/> on --qr-combine naming the value.</summary>
    public static QrCombine Parse(string? text) => text?.Trim() switch
    {
        "mult" => QrCombine.Multiply,
        "add" => QrCombine.Add,
        "concat" => QrCombine.Concat,
        _ => throw new SuiteInputException("--qr-combine", $"'{text}' is unknown; expected {string.Join(" or ", Names)}"),
    };

    /// <summary>How the partitions are joined, for the method's description ("partitions multiplied").</summary>
    public static string Verb(this QrCombine combine) => combine switch
    {
        QrCombine.Add => "partitions added",
        QrCombine.Concat => "partitions concatenated",
        _ => "partitions multiplied",
    };

    /// <summary>One line for the summary and the report.</summary>
    public static string Describe(QrCombine combine) =>
        $"{combine.Name()} (qr's partition vectors {combine.Verb()["partitions ".Length..]}; other methods unaffected)";
}
