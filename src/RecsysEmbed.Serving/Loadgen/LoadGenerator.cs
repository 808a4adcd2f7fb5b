using System.Diagnostics;
using HdrHistogram;

namespace RecsysEmbed.Serving.Loadgen;

/// <summary>How a load test runs: concurrency, duration, optional open-loop rate, warm-up.</summary>
public sealed record LoadOptions
{
    public int Concurrency { get; init; } = 16;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Total requests per second, spread over the callers (open loop); null: each caller goes as fast as it can.</summary>
    public double? Rate { get; init; }
    public ulong Seed { get; init; } = 1;
}

/// <summary>What a load test measured (latencies recorded in nanoseconds in an HDR histogram with 3 significant digits, reported in microseconds).</summary>
public sealed record LoadReport
{
    public required string Target { get; init; }
    public required int Concurrency { get; init; }
    public required double Seconds { get; init; }
    public required long Calls { get; init; }
    public required long Rows { get; init; }
    public required IReadOnlyDictionary<string, long> Errors { get; init; }
    public double CallsPerSecond => Calls / Math.Max(Seconds, 1e-9);
    public double RowsPerSecond => Rows / Math.Max(Seconds, 1e-9);
    public required double P50Us { get; init; }
    public required double P99Us { get; init; }
    public required double P999Us { get; init; }
    public required double MaxUs { get; init; }

    public override string ToString() =>
        $"{Target}: {CallsPerSecond:N0} calls/s, {RowsPerSecond:N0} rows/s, concurrency {Concurrency}, {Calls:N0} calls in {Seconds:F1} s; " +
        $"latency p50 {P50Us:N1} us, p99 {P99Us:N1} us, p99.9 {P999Us:N1} us, max {MaxUs:N0} us; " +
        $"errors: {(Errors.Count == 0 ? "none" : string.Join(", ", Errors.Select(e => $"{e.Key} {e.Value}")))}";
}

/// <summary>
/// Drives a target with <see cref="LoadOptions.Concurrency"/> callers (each with its own <see cref="ILoadCaller"/>, a
/// gRPC stream, when the target is an <see cref="IPerCallerLoadTarget"/>) for a duration and records each call's latency
/// (from its scheduled start in open-loop mode, so queueing delay counts) in per-caller HDR histograms merged at the end.
/// </summary>
public static class LoadGenerator
{
    public static async Task<LoadReport> RunAsync(ILoadTarget target, LoadShape shape, LoadOptions options, CancellationToken cancel = default)
    {
        if (options.Concurrency < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Concurrency, $"--concurrency: {options.Concurrency} must be >= 1.");
        if (options.Rate is <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.Rate, $"--rate: {options.Rate} must be > 0.");
        var table = shape.Values();
        int[][]? rings = shape.Zipf ? shape.DrawZipf(RingLength, options.Seed) : null; // before the clock starts
        string[][]? requests = target is ISyncLoadTarget && options.Rate is null ? Materialize(shape, table, rings, options.Concurrency, options.Seed) : null;
        var draws = new Draws(table, rings, requests);
        // One caller object per concurrent caller (a gRPC stream each), kept from the warm-up through the measurement.
        var perCaller = target as IPerCallerLoadTarget;
        var owned = perCaller is null ? null : new ILoadCaller[options.Concurrency];
        try
        {
            if (owned is not null) for (int c = 0; c < owned.Length; c++) owned[c] = perCaller!.OpenCaller();
            // Warm-up: connections, JIT, caches; not recorded.
            await Phase(target, owned, shape, options with { Duration = options.Warmup }, draws, record: false, cancel).ConfigureAwait(false);
            return await Phase(target, owned, shape, options, draws, record: true, cancel).ConfigureAwait(false);
        }
        finally
        {
            if (owned is not null) foreach (var caller in owned) if (caller is not null) await caller.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Requests before a caller's skewed stream repeats (5-7 s at the in-process rates seen here).</summary>
    private const int RingLength = 1 << 20;

    /// <summary>What callers draw their values from: the table of all values, Zipf rings over it, in-process requests.</summary>
    private sealed record Draws(string[] Table, int[][]? Rings, string[][]? Requests);

    /// <summary>
    /// In-process callers' requests, drawn before the clock starts: per caller a sequence of requests whose value
    /// strings are fresh copies laid out in the order they are used, as a server finds them in a just-parsed request
    /// buffer. Taking them from the shared table of all values instead would add a cache miss per value (the table
    /// slot, then the string) that no server pays, and would measure the generator rather than the lookup.
    /// </summary>
    private static string[][] Materialize(LoadShape shape, string[] table, int[][]? rings, int callers, ulong seed)
    {
        int features = shape.Features;
        // At most ~8M strings in all (a few hundred MB), at least 1,024 requests per caller.
        int count = Math.Clamp((1 << 23) / (callers * features), 1024, 1 << 16);
        var requests = new string[callers][];
        for (int c = 0; c < callers; c++)
        {
            var random = new Random((int)(seed * 7919 + (ulong)c));
            int at = random.Next(RingLength);
            var mine = requests[c] = new string[count * features];
            for (int q = 0; q < count; q++)
            {
                for (int f = 0; f < features; f++)
                    mine[q * features + f] = new string((rings is null ? table[random.Next(table.Length)] : table[rings[f][at]]).AsSpan());
                at = (at + 1) & (RingLength - 1);
            }
        }
        return requests;
    }

    private static async Task<LoadReport> Phase(ILoadTarget target, ILoadCaller[]? owned, LoadShape shape, LoadOptions options, Draws draws, bool record, CancellationToken cancel)
    {
        int callers = options.Concurrency;
        var histograms = new LongHistogram[callers];
        var errors = new Dictionary<string, long>[callers];
        var calls = new long[callers];
        var (table, rings, requests) = draws;
        long duration = (long)(options.Duration.TotalSeconds * Stopwatch.Frequency);
        long begin = Stopwatch.GetTimestamp();
        long end = begin + duration;
        double? interval = options.Rate is { } rate ? Stopwatch.Frequency * callers / rate : null;
        var tasks = new Task[callers];
        for (int c = 0; c < callers; c++)
        {
            int caller = c;
            histograms[c] = new LongHistogram(60_000_000_000, 3); // up to 60 s, in nanoseconds
            errors[c] = new Dictionary<string, long>();
            if (target is ISyncLoadTarget sync && interval is null)
            {
                // A dedicated thread per caller, timed in nanoseconds-precise ticks, nothing allocated per call.
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var thread = new Thread(() =>
                {
                    try
                    {
                        var mine = requests![caller];
                        int features = shape.Features, at = 0;
                        long made = 0;
                        while (!cancel.IsCancellationRequested)
                        {
                            var values = mine.AsSpan(at, features);
                            at += features;
                            if (at == mine.Length) at = 0;
                            long t0 = Stopwatch.GetTimestamp();
                            if (t0 >= end && made > 0) break; // every caller makes at least one call, however late it starts
                            made++;
                            sync.Call(values);
                            if (record)
                            {
                                histograms[caller].RecordValue(Math.Max(1, (Stopwatch.GetTimestamp() - t0) * 1_000_000_000 / Stopwatch.Frequency));
                                calls[caller]++;
                            }
                        }
                        done.SetResult();
                    }
                    catch (Exception e)
                    {
                        done.SetException(e);
                    }
                }) { IsBackground = true, Name = $"loadgen-{caller}" };
                thread.Start();
                tasks[c] = done.Task;
                continue;
            }
            tasks[c] = Task.Run(async () =>
            {
                var own = owned?[caller];
                var random = new Random((int)(options.Seed * 7919 + (ulong)caller));
                var values = new string[shape.Features];
                int at = random.Next(RingLength);
                long next = begin + (interval is { } i0 ? (long)(i0 * caller / callers) : 0);
                long made = 0, succeeded = 0;
                // Past the end, a caller still goes on until one call has succeeded (at most 10 tries), so a caller
                // that starts late on a busy machine, or whose first call pays for the connection, measures something.
                bool Done(long t) => t >= end && (succeeded > 0 || made >= 10);
                while (!cancel.IsCancellationRequested)
                {
                    if (rings is null) for (int f = 0; f < values.Length; f++) values[f] = table[random.Next(table.Length)];
                    else { for (int f = 0; f < values.Length; f++) values[f] = table[rings[f][at]]; at = (at + 1) & (RingLength - 1); }
                    long scheduled = Stopwatch.GetTimestamp();
                    if (interval is { } i)
                    {
                        if (Done(next)) break;
                        while (Stopwatch.GetTimestamp() < next)
                        {
                            long wait = next - Stopwatch.GetTimestamp();
                            if (wait > Stopwatch.Frequency / 500) await Task.Delay(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency / 2), cancel).ConfigureAwait(false);
                            else Thread.SpinWait(20);
                        }
                        scheduled = next;
                        next += (long)i;
                    }
                    else if (Done(scheduled)) break;
                    made++;
                    try
                    {
                        if (own is null) await target.CallAsync(values, cancel).ConfigureAwait(false);
                        else await own.CallAsync(values, cancel).ConfigureAwait(false);
                        succeeded++;
                        if (record)
                        {
                            histograms[caller].RecordValue(Math.Max(1, (Stopwatch.GetTimestamp() - scheduled) * 1_000_000_000 / Stopwatch.Frequency));
                            calls[caller]++;
                        }
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !cancel.IsCancellationRequested)
                    {
                        if (record)
                        {
                            string kind = ErrorKind.Of(e);
                            errors[caller][kind] = errors[caller].GetValueOrDefault(kind) + 1;
                        }
                    }
                }
            }, cancel);
        }
        await Task.WhenAll(tasks).ConfigureAwait(false);
        double seconds = (Stopwatch.GetTimestamp() - begin) / (double)Stopwatch.Frequency;
        var all = new LongHistogram(60_000_000_000, 3);
        foreach (var h in histograms) all.Add(h);
        var merged = new Dictionary<string, long>();
        foreach (var e in errors) foreach (var (k, v) in e) merged[k] = merged.GetValueOrDefault(k) + v;
        long total = calls.Sum();
        return new LoadReport
        {
            Target = target.Name, Concurrency = callers, Seconds = seconds, Calls = total, Rows = total * shape.Features, Errors = merged,
            P50Us = total == 0 ? 0 : all.GetValueAtPercentile(50) / 1000.0, P99Us = total == 0 ? 0 : all.GetValueAtPercentile(99) / 1000.0,
            P999Us = total == 0 ? 0 : all.GetValueAtPercentile(99.9) / 1000.0, MaxUs = total == 0 ? 0 : all.GetMaxValue() / 1000.0,
        };
    }
}
