using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Data.Metrics;

namespace RecsysEmbed.Data.Synthetic;

/// <summary>Settings of one synthetic run. Same options and seed = same bytes (any thread count).</summary>
public sealed record SyntheticOptions
{
    public SyntheticSchemaKind Schema { get; init; } = SyntheticSchemaKind.Criteo;
    public long Rows { get; init; } = 1_000_000;
    public ulong Seed { get; init; } = 1;

    /// <summary>
    /// Non-stationarity per million rows; 0 = stationary. At drift 1, after 10^6 rows the planted weights have made
    /// a quarter turn to an independent set, and each feature's popularity ranks have rotated by
    /// min(cardinality, 1000) places (new values become the popular ones).
    /// </summary>
    public double Drift { get; init; }

    /// <summary>Caps each feature's cardinality (default 10^8; at most 2^32).</summary>
    public long MaxCardinality { get; init; } = 100_000_000;

    /// <summary>Latent dimension k of the planted pairwise interactions.</summary>
    public int LatentDim { get; init; } = 4;

    /// <summary>
    /// Interaction groups of the planted model: features in one group interact fully, features in different groups
    /// with strength <see cref="CrossGroupStrength"/>. 1 = every pair interacts equally.
    /// </summary>
    public int InteractionGroups { get; init; } = 4;

    /// <summary>Strength (in [0, 1]) of the planted interactions between features of different groups.</summary>
    public double CrossGroupStrength { get; init; } = 0.1;

    /// <summary>
    /// c of the planted model's signal shrinkage (see <see cref="PlantedCtrModel"/>): a value expected c times in
    /// <see cref="SignalReferenceRows"/> rows keeps half its effect's variance, rarer values less. 0 turns it off
    /// (every value equally strong, however rarely seen).
    /// </summary>
    public double SignalHalfCount { get; init; } = DefaultSignalHalfCount;

    /// <summary>R of the signal shrinkage: the row count the expected sightings are counted in.</summary>
    public double SignalReferenceRows { get; init; } = 1_000_000;

    public const double DefaultSignalHalfCount = 50;

    /// <summary>Mean click probability the global bias is calibrated to.</summary>
    public double TargetCtr { get; init; } = 0.25;

    /// <summary>Rows per generation chunk (each chunk has its own seeded RNG). Changing it changes the bytes.</summary>
    public int ChunkRows { get; init; } = 8192;

    /// <summary>Worker threads; 0 = processor count. Does not change the output.</summary>
    public int Threads { get; init; }

    /// <summary>
    /// Keep every row's true probability (8 bytes + 1 per row) to compute the exact best AUC. Off: AUC is NaN, log
    /// loss and CTR are still exact.
    /// </summary>
    public bool ComputeBestAuc { get; init; } = true;

    /// <summary>
    /// Also report the best AUC over only the last this-many rows (the usual held-out tail of a time-ordered log),
    /// so a model evaluated on that tail is compared with the best achievable there. 0 = off.
    /// </summary>
    public long HeldOutRows { get; init; }

    /// <summary>Return the per-row probabilities and labels in the result (tests, small runs).</summary>
    public bool KeepProbabilities { get; init; }

    internal void Validate()
    {
        if (Rows < 0) throw new ArgumentOutOfRangeException(nameof(Rows), Rows, "rows must be >= 0.");
        if (!(Drift >= 0) || !double.IsFinite(Drift)) throw new ArgumentOutOfRangeException(nameof(Drift), Drift, "drift must be a finite number >= 0.");
        if (MaxCardinality < 1 || MaxCardinality > 1L << 32) throw new ArgumentOutOfRangeException(nameof(MaxCardinality), MaxCardinality, "max cardinality must be in [1, 2^32].");
        if (LatentDim is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(LatentDim), LatentDim, "latent dim must be in [1, 64].");
        if (!(TargetCtr > 0 && TargetCtr < 1)) throw new ArgumentOutOfRangeException(nameof(TargetCtr), TargetCtr, "target CTR must be in (0, 1).");
        if (InteractionGroups < 1) throw new ArgumentOutOfRangeException(nameof(InteractionGroups), InteractionGroups, "interaction groups must be >= 1.");
        if (!(CrossGroupStrength >= 0 && CrossGroupStrength <= 1)) throw new ArgumentOutOfRangeException(nameof(CrossGroupStrength), CrossGroupStrength, "cross-group strength must be in [0, 1].");
        if (!(SignalHalfCount >= 0) || !double.IsFinite(SignalHalfCount)) throw new ArgumentOutOfRangeException(nameof(SignalHalfCount), SignalHalfCount, "signal half count must be a finite number >= 0.");
        if (!(SignalReferenceRows > 0) || !double.IsFinite(SignalReferenceRows)) throw new ArgumentOutOfRangeException(nameof(SignalReferenceRows), SignalReferenceRows, "signal reference rows must be a finite number > 0.");
        if (ChunkRows is < 1 or > 1 << 20) throw new ArgumentOutOfRangeException(nameof(ChunkRows), ChunkRows, "chunk rows must be in [1, 2^20].");
        if (HeldOutRows < 0 || HeldOutRows > Rows) throw new ArgumentOutOfRangeException(nameof(HeldOutRows), HeldOutRows, $"held-out rows must be in [0, rows = {Rows}].");
        if (Threads < 0) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "threads must be >= 0.");
        if ((ComputeBestAuc || KeepProbabilities) && Rows > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(Rows), Rows, $"best-AUC bookkeeping holds one entry per row; turn ComputeBestAuc off above {Array.MaxLength} rows.");
    }
}

/// <summary>What a run produced. Timing fields vary; the rest is determined by the options.</summary>
public sealed record SyntheticResult
{
    public required SyntheticSchemaKind Schema { get; init; }
    public required long Rows { get; init; }
    public required ulong Seed { get; init; }
    public required double Drift { get; init; }
    public required long Positives { get; init; }
    public double Ctr => Rows == 0 ? double.NaN : (double)Positives / Rows;
    public required double MeanProbability { get; init; }

    /// <summary>Exact AUC (ties = 1/2) of the true probabilities over the generated rows; NaN when not computed.</summary>
    public required double BestAuc { get; init; }

    /// <summary>The same over the last <see cref="SyntheticOptions.HeldOutRows"/> rows; NaN when not asked for.</summary>
    public double BestHeldOutAuc { get; init; } = double.NaN;

    /// <summary>Mean log loss of the true probabilities over the generated rows.</summary>
    public required double BestLogLoss { get; init; }

    public required double GlobalBias { get; init; }
    public required long Bytes { get; init; }

    /// <summary>Generation and writing, wall clock (the best-AUC sort is timed separately).</summary>
    public required TimeSpan Elapsed { get; init; }
    public required TimeSpan MetricsElapsed { get; init; }
    public double RowsPerSecond => Rows / Math.Max(Elapsed.TotalSeconds, 1e-9);
    public required int Threads { get; init; }

    /// <summary>Per-row true probabilities and labels (only with <see cref="SyntheticOptions.KeepProbabilities"/>).</summary>
    public double[]? Probabilities { get; init; }
    public byte[]? Labels { get; init; }
}

/// <summary>
/// Writes click logs in Criteo TSV or Avazu CSV whose labels come from a known <see cref="PlantedCtrModel"/>, so the
/// best achievable AUC and log loss are known exactly.
/// <code>
///   rows  [ chunk 0 | chunk 1 | chunk 2 | ... ]   ChunkRows each; chunk c uses SplitMix64(mix(seed, c))
///   workers take chunks in order, format them into pooled byte buffers; the caller's thread writes them in order
///   row i:  categorical f: rank ~ Zipf(n_f, s_f) -> (rank - 1 + rotation_f(i)) mod n_f -> keyed permutation -> raw
///           dense d:      lognormal count (Criteo I1..I13), empty when missing
///           label:        Bernoulli(sigmoid(planted logit))
/// </code>
/// </summary>
public sealed class SyntheticCtrGenerator
{
    private const int MaxRowBytes = 640;
    private const int CalibrationRows = 1 << 16;
    private static readonly DateOnly AvazuFirstDay = new(2014, 10, 21);
    private static ReadOnlySpan<byte> HexDigits => "0123456789abcdef"u8;

    private readonly SyntheticOptions _options;
    private readonly ZipfSampler?[] _samplers;
    private readonly int _columnCount;        // categorical features written as columns
    private readonly byte[][] _hourText = [];  // Avazu: YYMMDDHH per hour slot
    private readonly int[] _hourDayOfWeek = [];
    // hot-path copies of the specs (arrays, no interface calls); rate thresholds compare against a raw 64-bit draw,
    // and a zero rate draws nothing
    private readonly ulong[] _catMissing, _denseMissing, _denseNegative;
    private readonly long[] _catCardinality;
    private readonly bool[] _catHex;
    private readonly double[] _denseMu, _denseSigma;
    private static readonly ushort[] HexPairs = BuildHexPairs();

    public SyntheticCtrGenerator(SyntheticOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        var categorical = SyntheticSchemas.Categorical(options.Schema, options.MaxCardinality);
        var dense = SyntheticSchemas.Dense(options.Schema);
        Model = new PlantedCtrModel(options.Schema, categorical, dense, options.Seed, options.LatentDim, options.Drift, options.Rows,
            options.SignalHalfCount, options.SignalReferenceRows, options.InteractionGroups, options.CrossGroupStrength);
        _samplers = categorical.Select(c => c.Format == RawValueFormat.Derived ? null : new ZipfSampler(c.Cardinality, c.ZipfExponent)).ToArray();
        _columnCount = categorical.Count(c => c.Format != RawValueFormat.Derived);
        _catMissing = categorical.Select(c => Threshold(c.MissingRate)).ToArray();
        _catCardinality = categorical.Select(c => c.Cardinality).ToArray();
        _catHex = categorical.Select(c => c.Format == RawValueFormat.Hex8).ToArray();
        _denseMissing = dense.Select(d => Threshold(d.MissingRate)).ToArray();
        _denseNegative = dense.Select(d => Threshold(d.NegativeRate)).ToArray();
        _denseMu = dense.Select(d => Math.Log(d.Median + 1)).ToArray();
        _denseSigma = dense.Select(d => d.LogSigma).ToArray();
        if (options.Schema == SyntheticSchemaKind.Avazu)
        {
            _hourText = new byte[240][];
            _hourDayOfWeek = new int[240];
            for (int h = 0; h < 240; h++)
            {
                var day = AvazuFirstDay.AddDays(h / 24);
                _hourText[h] = Encoding.ASCII.GetBytes($"{day.Year % 100:D2}{day.Month:D2}{day.Day:D2}{h % 24:D2}");
                _hourDayOfWeek[h] = (int)day.DayOfWeek;
            }
        }
        Model.GlobalBias = CalibrateGlobalBias();
    }

    public SyntheticOptions Options => _options;
    public PlantedCtrModel Model { get; }

    /// <summary>Writes the rows to <paramref name="output"/> (not closed) and returns the run's figures.</summary>
    public SyntheticResult Generate(Stream output)
    {
        ArgumentNullException.ThrowIfNull(output);
        long rows = _options.Rows;
        int chunkRows = _options.ChunkRows;
        long chunks = (rows + chunkRows - 1) / chunkRows;
        int threads = _options.Threads > 0 ? _options.Threads : Environment.ProcessorCount;
        bool keep = _options.ComputeBestAuc || _options.KeepProbabilities;
        var probabilities = keep ? new double[rows] : null;
        var labels = keep ? new byte[rows] : null;
        var chunkPositives = new long[chunks];
        var chunkLogLoss = new double[chunks];
        var chunkProbability = new double[chunks];

        var clock = Stopwatch.StartNew();
        long bytes = 0;
        if (_options.Schema == SyntheticSchemaKind.Avazu)
        {
            var header = Encoding.ASCII.GetBytes(
                "id,click,hour," + string.Join(",", Model.Categorical.Where(c => c.Format != RawValueFormat.Derived).Select(c => c.Name)) + "\n");
            output.Write(header);
            bytes += header.Length;
        }

        int window = Math.Max(2, 2 * threads + 2);
        var buffers = new byte[window][];
        var lengths = new int[window];
        var ready = Enumerable.Range(0, window).Select(_ => new SemaphoreSlim(0)).ToArray();
        using var free = new SemaphoreSlim(window);
        using var cancel = new CancellationTokenSource();
        long nextChunk = -1;
        Exception? failure = null;

        void Worker()
        {
            try
            {
                while (true)
                {
                    free.Wait(cancel.Token);
                    long c = Interlocked.Increment(ref nextChunk);
                    if (c >= chunks)
                    {
                        free.Release();
                        return;
                    }
                    int slot = (int)(c % window);
                    long first = c * chunkRows;
                    int count = (int)Math.Min(chunkRows, rows - first);
                    buffers[slot] ??= new byte[chunkRows * MaxRowBytes];
                    lengths[slot] = GenerateChunk(c, first, count, buffers[slot], probabilities, labels,
                        out chunkPositives[c], out chunkLogLoss[c], out chunkProbability[c]);
                    ready[slot].Release();
                }
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
                cancel.Cancel();
            }
        }

        var workers = Enumerable.Range(0, threads).Select(_ => Task.Factory.StartNew(Worker, TaskCreationOptions.LongRunning)).ToArray();
        try
        {
            for (long c = 0; c < chunks; c++)
            {
                int slot = (int)(c % window);
                ready[slot].Wait(cancel.Token);
                output.Write(buffers[slot], 0, lengths[slot]);
                bytes += lengths[slot];
                free.Release();
            }
            output.Flush();
        }
        catch (OperationCanceledException) when (failure != null)
        {
        }
        catch
        {
            cancel.Cancel();
            throw;
        }
        finally
        {
            Task.WaitAll(workers);
            foreach (var r in ready) r.Dispose();
        }
        if (failure != null) throw new InvalidOperationException("synthetic generation failed: " + failure.Message, failure);
        clock.Stop();

        long positives = 0;
        double logLoss = 0, probabilitySum = 0;
        for (long c = 0; c < chunks; c++)
        {
            positives += chunkPositives[c];
            logLoss += chunkLogLoss[c];
            probabilitySum += chunkProbability[c];
        }
        var metricsClock = Stopwatch.StartNew();
        double auc = _options.ComputeBestAuc && rows > 0 ? BinaryMetrics.ExactAuc(probabilities, labels) : double.NaN;
        long heldOut = _options.HeldOutRows;
        double heldOutAuc = _options.ComputeBestAuc && heldOut > 0
            ? BinaryMetrics.ExactAuc(probabilities.AsSpan((int)(rows - heldOut)), labels.AsSpan((int)(rows - heldOut)))
            : double.NaN;
        metricsClock.Stop();

        return new SyntheticResult
        {
            Schema = _options.Schema,
            Rows = rows,
            Seed = _options.Seed,
            Drift = _options.Drift,
            Positives = positives,
            MeanProbability = rows == 0 ? double.NaN : probabilitySum / rows,
            BestAuc = auc,
            BestHeldOutAuc = heldOutAuc,
            BestLogLoss = rows == 0 ? double.NaN : logLoss / rows,
            GlobalBias = Model.GlobalBias,
            Bytes = bytes,
            Elapsed = clock.Elapsed,
            MetricsElapsed = metricsClock.Elapsed,
            Threads = threads,
            Probabilities = _options.KeepProbabilities ? probabilities : null,
            Labels = _options.KeepProbabilities ? labels : null,
        };
    }

    /// <summary>Writes <paramref name="path"/> and <c>path.meta.json</c> (seed, rows, schema, CTR, best AUC, best log loss).</summary>
    public SyntheticResult GenerateFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        SyntheticResult result;
        using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
            result = Generate(file);
        File.WriteAllText(MetaPath(path), MetaJson(result));
        return result;
    }

    public static string MetaPath(string dataPath) => dataPath + ".meta.json";

    /// <summary>The run's metadata as JSON; deterministic (no timings).</summary>
    public string MetaJson(SyntheticResult result)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("generator", "RecsysEmbed.SyntheticCtrGenerator/1");
            json.WriteString("schema", result.Schema.ToString().ToLowerInvariant());
            json.WriteNumber("seed", result.Seed);
            json.WriteNumber("rows", result.Rows);
            json.WriteNumber("drift", result.Drift);
            json.WriteNumber("positives", result.Positives);
            WriteDouble(json, "ctr", result.Ctr);
            WriteDouble(json, "mean_probability", result.MeanProbability);
            WriteDouble(json, "best_auc", result.BestAuc);
            if (_options.HeldOutRows > 0)
            {
                json.WriteNumber("held_out_rows", _options.HeldOutRows);
                WriteDouble(json, "best_held_out_auc", result.BestHeldOutAuc);
            }
            WriteDouble(json, "best_log_loss", result.BestLogLoss);
            WriteDouble(json, "global_bias", result.GlobalBias);
            json.WriteNumber("latent_dim", _options.LatentDim);
            json.WriteNumber("signal_half_count", _options.SignalHalfCount);
            json.WriteNumber("interaction_groups", Model.InteractionGroups);
            json.WriteNumber("cross_group_strength", _options.CrossGroupStrength);
            json.WriteNumber("signal_reference_rows", _options.SignalReferenceRows);
            json.WriteNumber("target_ctr", _options.TargetCtr);
            json.WriteNumber("max_cardinality", _options.MaxCardinality);
            json.WriteNumber("chunk_rows", _options.ChunkRows);
            json.WriteStartArray("categorical");
            foreach (var c in Model.Categorical)
            {
                json.WriteStartObject();
                json.WriteString("name", c.Name);
                json.WriteNumber("cardinality", c.Cardinality);
                json.WriteNumber("zipf_exponent", Math.Round(c.ZipfExponent, 6));
                json.WriteNumber("missing_rate", c.MissingRate);
                json.WriteString("format", c.Format.ToString().ToLowerInvariant());
                json.WriteNumber("interaction_group", Model.InteractionGroup(Model.Categorical.ToList().IndexOf(c)));
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("dense");
            foreach (var d in Model.Dense)
            {
                json.WriteStartObject();
                json.WriteString("name", d.Name);
                json.WriteNumber("missing_rate", d.MissingRate);
                json.WriteNumber("median", d.Median);
                json.WriteNumber("log_sigma", d.LogSigma);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void WriteDouble(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value)) json.WriteNumber(name, value);
        else json.WriteNull(name);
    }

    private int GenerateChunk(long chunk, long first, int count, byte[] buffer, double[]? probabilities, byte[]? labels,
        out long positives, out double logLoss, out double probabilitySum)
    {
        var rng = new SplitMix64(BucketHash.Mix(chunk, BucketHash.DeriveSeed(_options.Seed, 0x5EED)));
        Span<double> sums = stackalloc double[Model.SumsLength];
        Span<long> rotation = stackalloc long[_samplers.Length];
        int w = 0;
        positives = 0;
        logLoss = 0;
        probabilitySum = 0;
        for (int r = 0; r < count; r++)
        {
            long row = first + r;
            double logit = Model.GlobalBias + WriteRow(row, ref rng, buffer, ref w, out int labelAt, sums, rotation);
            double p = PlantedCtrModel.Sigmoid(logit);
            bool click = rng.NextDouble() < p;
            buffer[labelAt] = click ? (byte)'1' : (byte)'0';
            if (click) positives++;
            logLoss += BinaryMetrics.PointLogLoss(p, click);
            probabilitySum += p;
            if (probabilities != null)
            {
                probabilities[row] = p;
                labels![row] = click ? (byte)1 : (byte)0;
            }
        }
        return w;
    }

    /// <summary>Formats row <paramref name="row"/> at buffer[w..] (label left as a placeholder) and returns its logit without b0.</summary>
    private double WriteRow(long row, ref SplitMix64 rng, byte[] buffer, ref int w, out int labelAt, Span<double> sums, Span<long> rotation)
    {
        (double cos, double sin) = Model.Rotation(row);
        FillRotation(row, rotation);
        sums.Clear();
        double logit = 0;

        if (_options.Schema == SyntheticSchemaKind.Criteo)
        {
            labelAt = w;
            buffer[w++] = (byte)'0';
            for (int d = 0; d < _denseMu.Length; d++)
            {
                buffer[w++] = (byte)'\t';
                if (_denseMissing[d] != 0 && rng.Next() < _denseMissing[d]) continue;
                long x = _denseNegative[d] != 0 && rng.Next() < _denseNegative[d]
                    ? -1 - (long)(rng.Next() % 3)
                    : Math.Max(0, (long)Math.Exp(Math.Min(_denseMu[d] + _denseSigma[d] * rng.NextGaussian(), 40)) - 1);
                WriteInt64(buffer, ref w, x);
                logit += Model.DenseEffect(d, x);
            }
            for (int f = 0; f < _samplers.Length; f++)
            {
                buffer[w++] = (byte)'\t';
                if (!TrySampleValue(f, ref rng, rotation, out uint raw, out long rank)) continue;
                WriteHex8(buffer, ref w, raw);
                Model.AddValue(f, raw, rank, cos, sin, ref logit, sums);
            }
        }
        else
        {
            ulong id = BucketHash.Mix(row, _options.Seed ^ 0x1D1D1D1Dul);
            Utf8Formatter.TryFormat(id, buffer.AsSpan(w), out int idLength);
            w += idLength;
            buffer[w++] = (byte)',';
            labelAt = w;
            buffer[w++] = (byte)'0';
            buffer[w++] = (byte)',';
            int hourSlot = (int)(row * 240 / Math.Max(1, Model.Rows));
            _hourText[hourSlot].CopyTo(buffer.AsSpan(w));
            w += 8;
            for (int f = 0; f < _columnCount; f++)
            {
                buffer[w++] = (byte)',';
                if (!TrySampleValue(f, ref rng, rotation, out uint raw, out long rank)) continue;
                if (_catHex[f]) WriteHex8(buffer, ref w, raw);
                else WriteInt64(buffer, ref w, raw);
                Model.AddValue(f, raw, rank, cos, sin, ref logit, sums);
            }
            Model.AddValue(_columnCount, (uint)(hourSlot % 24), hourSlot % 24, cos, sin, ref logit, sums);
            Model.AddValue(_columnCount + 1, (uint)_hourDayOfWeek[hourSlot], _hourDayOfWeek[hourSlot], cos, sin, ref logit, sums);
        }
        buffer[w++] = (byte)'\n';
        return logit + Model.PairTerm(sums);
    }

    private bool TrySampleValue(int f, ref SplitMix64 rng, ReadOnlySpan<long> rotation, out uint raw, out long rank)
    {
        if (_catMissing[f] != 0 && rng.Next() < _catMissing[f])
        {
            raw = 0;
            rank = 0;
            return false;
        }
        rank = _samplers[f]!.Sample(ref rng) - 1;
        long idx = rank + rotation[f];
        if (idx >= _catCardinality[f]) idx -= _catCardinality[f];
        raw = Model.RawValue(f, idx);
        return true;
    }

    private void FillRotation(long row, Span<long> rotation)
    {
        if (_options.Drift == 0)
        {
            rotation.Clear();
            return;
        }
        for (int f = 0; f < rotation.Length; f++) rotation[f] = Model.RotationOffset(f, row);
    }

    private static void WriteHex8(byte[] buffer, ref int w, uint value)
    {
        var pairs = HexPairs;
        ref byte dst = ref buffer[w];
        Unsafe.WriteUnaligned(ref dst, pairs[value >> 24]);
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, 2), pairs[(value >> 16) & 0xFF]);
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, 4), pairs[(value >> 8) & 0xFF]);
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, 6), pairs[value & 0xFF]);
        w += 8;
    }

    // Two lower-case hex digits per byte value, as a little-endian ushort (first digit in the low byte).
    private static ushort[] BuildHexPairs()
    {
        var hex = HexDigits;
        var pairs = new ushort[256];
        for (int b = 0; b < 256; b++) pairs[b] = (ushort)(hex[b >> 4] | (hex[b & 0xF] << 8));
        return pairs;
    }

    private static void WriteInt64(byte[] buffer, ref int w, long value)
    {
        if (value < 0)
        {
            buffer[w++] = (byte)'-';
            value = -value;
        }
        if (value < 10)
        {
            buffer[w++] = (byte)('0' + value);
            return;
        }
        int digits = 1;
        for (long v = value / 10; v > 0; v /= 10) digits++;
        for (int i = digits - 1; i >= 0; i--)
        {
            buffer[w + i] = (byte)('0' + value % 10);
            value /= 10;
        }
        w += digits;
    }

    private static ulong Threshold(double rate) => rate <= 0 ? 0 : rate >= 1 ? ulong.MaxValue : (ulong)(rate * 18446744073709551616.0);

    /// <summary>
    /// Finds b0 with mean sigmoid(b0 + rest) = target CTR over <see cref="CalibrationRows"/> rows spread over the
    /// run (own RNG stream, so the data rows are unaffected), by bisection.
    /// </summary>
    private double CalibrateGlobalBias()
    {
        long rows = Math.Max(1, _options.Rows);
        int m = (int)Math.Min(CalibrationRows, rows);
        var rest = new double[m];
        var rng = new SplitMix64(BucketHash.DeriveSeed(_options.Seed, 0xCA11B));
        var scratch = new byte[MaxRowBytes];
        Span<double> sums = stackalloc double[Model.SumsLength];
        Span<long> rotation = stackalloc long[_samplers.Length];
        for (int i = 0; i < m; i++)
        {
            int w = 0;
            rest[i] = WriteRow(i * rows / m, ref rng, scratch, ref w, out _, sums, rotation);
        }
        double lo = -30, hi = 30;
        for (int iter = 0; iter < 60; iter++)
        {
            double mid = 0.5 * (lo + hi);
            double mean = 0;
            foreach (double r in rest) mean += PlantedCtrModel.Sigmoid(mid + r);
            if (mean / m < _options.TargetCtr) lo = mid;
            else hi = mid;
        }
        return 0.5 * (lo + hi);
    }
}
