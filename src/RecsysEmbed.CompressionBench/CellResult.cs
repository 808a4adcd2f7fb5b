namespace RecsysEmbed.CompressionBench;

/// <summary>
/// One (method, budget, repeat) of a run: what was trained (parameters, config), its held-out quality, its memory,
/// and its speed. A skipped cell has <see cref="Status"/> "skipped" and a <see cref="Reason"/>, and no metrics.
/// </summary>
public sealed record CellResult
{
    public required string Method { get; init; }
    public required double Budget { get; init; }
    public required int Repeat { get; init; }
    public required ulong Seed { get; init; }
    public required string Status { get; init; }
    public string? Reason { get; init; }
    public string Parameters { get; init; } = "";
    public long BudgetBytes { get; init; }
    public long WeightBytes { get; init; }
    public long OptimizerBytes { get; init; }
    public long FullWeightBytes { get; init; }
    public double Auc { get; init; } = double.NaN;
    public double LogLoss { get; init; } = double.NaN;
    public double NormalizedEntropy { get; init; } = double.NaN;
    public double Calibration { get; init; } = double.NaN;
    public long TrainSamples { get; init; }
    public double TrainSamplesPerSecond { get; init; } = double.NaN;
    public double LookupP50Microseconds { get; init; } = double.NaN;
    public double LookupP99Microseconds { get; init; } = double.NaN;
    public double WallSeconds { get; init; }
    /// <summary>CPU seconds of the process during the cell (all threads): what a quieter machine would still spend.</summary>
    public double CpuSeconds { get; init; }
    public string Config { get; init; } = "";

    public bool Ok => Status == "ok";

    /// <summary>File name of the cell in DIR/cells (budget written exactly, so 1/3 and 0.333 differ).</summary>
    public static string FileName(string method, double budget, int repeat) =>
        $"{method}_{budget.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}_{repeat}.json";
}
