using System.Globalization;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.CompressionBench;

/// <summary>A bad suite argument: <see cref="Field"/> names the option, the message its value and what is expected.</summary>
public sealed class SuiteInputException(string field, string message) : Exception($"{field}: {message}")
{
    public string Field { get; } = field;
}

/// <summary>
/// One compression-suite run, as given on the command line. Everything but <see cref="OutDir"/>,
/// <see cref="MaxMinutes"/> and <see cref="Title"/> is the run's identity: a folder holding a run with another identity is refused.
/// </summary>
public sealed record SuiteOptions
{
    /// <summary>A Criteo-format file (the last <see cref="EvalFraction"/> of its lines held out), or synth:criteo[:ROWS].</summary>
    public required string Data { get; init; }
    public string Model { get; init; } = "dlrm";
    public required IReadOnlyList<string> Methods { get; init; }
    public required IReadOnlyList<double> Budgets { get; init; }
    public int Repeats { get; init; } = 1;
    public required string OutDir { get; init; }
    /// <summary>Stop starting new cells after this many minutes (finished cells are kept; rerun to resume).</summary>
    public double? MaxMinutes { get; init; }
    /// <summary>Heading of summary.md and report.html (e.g. to mark a smoke run); not part of the identity.</summary>
    public string Title { get; init; } = "Compression suite";
    public int Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 2048;
    public int EmbeddingDim { get; init; } = 16;
    public IReadOnlyList<int> BottomMlp { get; init; } = [512, 256];
    public IReadOnlyList<int> TopMlp { get; init; } = [512, 256];
    /// <summary>Held-out share of the rows (synthetic data: extra rows generated after the training rows).</summary>
    public double EvalFraction { get; init; } = 0.1;
    /// <summary>Seed of repeat 0 and of the synthetic data; repeat r uses Seed + r for the tables' hashes and initialisation and the dense model.</summary>
    public ulong Seed { get; init; } = 1;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Single-request lookups timed per cell for the latency percentiles.</summary>
    public int LatencyRequests { get; init; } = 2000;
    /// <summary>How hash, multihash, qr, ue and ue2 spend a budget (<see cref="SuitePolicy"/>); the other methods ignore it.</summary>
    public SuitePolicy Policy { get; init; } = SuitePolicy.Cap;
    /// <summary>How qr joins its partition vectors (<see cref="SuiteQrCombine"/>, <c>--qr-combine</c>); the other methods ignore it.</summary>
    public QrCombine QrCombine { get; init; } = QrCombine.Multiply;

    public const string SynthPrefix = "synth:";
    public const long DefaultSynthRows = 2_000_000;

    /// <summary>Rows of a synth: data spec, or null for a file.</summary>
    public long? SynthRows => ParseSynth(Data);

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Data)) throw new SuiteInputException("--data", "give a Criteo-format file or synth:criteo[:ROWS]");
        if (Data.StartsWith(SynthPrefix, StringComparison.Ordinal)) _ = ParseSynth(Data);
        else if (!File.Exists(Data)) throw new SuiteInputException("--data", $"'{Data}' is neither an existing file nor synth:criteo[:ROWS]");
        if (Model is not ("dlrm" or "dcnv2")) throw new SuiteInputException("--model", $"'{Model}' is unknown; expected dlrm or dcnv2");
        if (Methods.Count == 0) throw new SuiteInputException("--methods", "list at least one method");
        foreach (var m in Methods)
            if (!CompressionMethods.Names.Contains(m))
                throw new SuiteInputException("--methods", $"'{m}' is unknown; expected some of {string.Join(", ", CompressionMethods.Names)}");
        if (Methods.Distinct().Count() != Methods.Count) throw new SuiteInputException("--methods", "a method is listed twice");
        if (Budgets.Count == 0) throw new SuiteInputException("--budgets", "list at least one budget");
        foreach (var b in Budgets)
            if (!(b > 0 && b <= 1)) throw new SuiteInputException("--budgets", $"{b.ToString(CultureInfo.InvariantCulture)} is outside (0, 1]; a budget is a fraction of the full tables' weight bytes");
        if (Budgets.Distinct().Count() != Budgets.Count) throw new SuiteInputException("--budgets", "a budget is listed twice");
        if (Repeats < 1) throw new SuiteInputException("--repeats", $"{Repeats} must be >= 1");
        if (MaxMinutes is { } mm && !(mm > 0)) throw new SuiteInputException("--max-minutes", $"{mm} must be > 0");
        if (Epochs < 1) throw new SuiteInputException("--epochs", $"{Epochs} must be >= 1");
        if (BatchSize < 1) throw new SuiteInputException("--batch-size", $"{BatchSize} must be >= 1");
        if (EmbeddingDim < 1) throw new SuiteInputException("--dim", $"{EmbeddingDim} must be >= 1");
        if (BottomMlp.Any(x => x < 1)) throw new SuiteInputException("--bottom-mlp", "layer sizes must be >= 1");
        if (TopMlp.Any(x => x < 1)) throw new SuiteInputException("--top-mlp", "layer sizes must be >= 1");
        if (!(EvalFraction > 0 && EvalFraction < 1)) throw new SuiteInputException("--eval-fraction", $"{EvalFraction} must be in (0, 1)");
        if (Threads < 1) throw new SuiteInputException("--threads", $"{Threads} must be >= 1");
        if (LatencyRequests < 1) throw new SuiteInputException("--latency-requests", $"{LatencyRequests} must be >= 1");
        if (!Enum.IsDefined(Policy)) throw new SuiteInputException("--policy", $"'{Policy}' is unknown; expected {string.Join(" or ", SuitePolicies.Names)}");
        if (!Enum.IsDefined(QrCombine)) throw new SuiteInputException("--qr-combine", $"'{QrCombine}' is unknown; expected {string.Join(" or ", SuiteQrCombine.Names)}");
        if (string.IsNullOrWhiteSpace(OutDir)) throw new SuiteInputException("--out", "give an output folder");
    }

    private static long? ParseSynth(string data)
    {
        if (!data.StartsWith(SynthPrefix, StringComparison.Ordinal)) return null;
        var parts = data[SynthPrefix.Length..].Split(':');
        if (parts[0] != "criteo" || parts.Length > 2)
            throw new SuiteInputException("--data", $"'{data}' is unknown; the synthetic dataset is synth:criteo or synth:criteo:ROWS");
        if (parts.Length == 1) return DefaultSynthRows;
        if (!long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long rows) || rows < 100)
            throw new SuiteInputException("--data", $"'{parts[1]}' in '{data}' is not a row count >= 100");
        return rows;
    }

    /// <summary>
    /// What makes two runs the same run (everything that changes a result). The policy and the QR combine come last: a
    /// run.txt written before either existed lacks those lines, and reads as policy=cap and qr_combine=mult (<see cref="RunFolder"/>).
    /// </summary>
    public string Identity() => string.Join("\n",
        $"data={Data}", $"model={Model}", $"methods={string.Join(",", Methods)}",
        $"budgets={string.Join(",", Budgets.Select(b => b.ToString("R", CultureInfo.InvariantCulture)))}", $"repeats={Repeats}",
        $"epochs={Epochs}", $"batch_size={BatchSize}", $"dim={EmbeddingDim}", $"bottom_mlp={string.Join(",", BottomMlp)}",
        $"top_mlp={string.Join(",", TopMlp)}", $"eval_fraction={EvalFraction.ToString("R", CultureInfo.InvariantCulture)}", $"seed={Seed}",
        $"threads={Threads}", $"latency_requests={LatencyRequests}", $"{PolicyKey}{Policy.Name()}",
        $"{SuiteQrCombine.Key}{QrCombine.Name()}");

    /// <summary>The identity line of the policy, up to its value.</summary>
    public const string PolicyKey = "policy=";
}
