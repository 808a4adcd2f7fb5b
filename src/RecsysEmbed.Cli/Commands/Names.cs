using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Cli.Commands;

/// <summary>Enum values spelled as configs write them, so output can be pasted back into a config.</summary>
internal static class Names
{
    public static string Of(PoolingMode p) => p == PoolingMode.Mean ? "mean" : "sum";
    public static string Of(HashCombine c) => c == HashCombine.Concat ? "concat" : "sum";
    public static string Of(QrCombine c) => c switch { QrCombine.Add => "add", QrCombine.Concat => "concat", _ => "mult" };
    public static string Of(SparseOptimizerKind k) => k switch
    {
        SparseOptimizerKind.Sgd => "sgd",
        SparseOptimizerKind.Adagrad => "adagrad",
        SparseOptimizerKind.Adam => "adam",
        _ => "rowwise_adagrad",
    };
}
