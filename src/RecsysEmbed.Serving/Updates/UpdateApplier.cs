using System.Diagnostics;
using RecsysEmbed.Core.Updates;
using RecsysEmbed.Serving.Metrics;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Store;

namespace RecsysEmbed.Serving.Updates;

/// <summary>What happened to one update record.</summary>
public enum ApplyOutcome { Applied, Ignored, Held, Malformed }

/// <summary>
/// Applies the update topic to the store, in partition order and idempotently:
/// <list type="bullet">
/// <item>a row update is written only if its version is at least the stored row's (versions never go backwards, and
/// re-delivered records change nothing);</item>
/// <item>a dense update replaces the scorer's dense model when newer;</item>
/// <item>a vocabulary update assigns the trainer's new (id, index) entries into the model's feature vocabularies
/// (idempotent; a contradicting entry is refused and counted), and the store checkpoint carries them
/// (<see cref="LearnedVocabulary"/>), so a recovered service maps those values to the same rows;</item>
/// <item>a row newer than the dense model by more than <see cref="StalenessBound"/> versions is held back until a
/// dense model close enough arrives (at most <see cref="MaxHeld"/> rows; beyond that rows are applied and counted);</item>
/// <item>a record that fails to decode is counted and set aside (<see cref="Malformed"/>), never applied.</item>
/// </list>
/// Offsets: the next offset to read per partition, never past a held row, so a checkpoint (rows + offsets in one
/// FASTER cut) resumes exactly. One thread applies; reads go on concurrently.
/// </summary>
public sealed class UpdateApplier : IDisposable
{
    private readonly FasterRowStore _store;
    private readonly DenseScorer? _dense;
    private readonly ServingMetrics _metrics;
    private readonly RowStoreSession _session;
    private readonly Dictionary<string, long> _next;
    private readonly List<(UpdateRecord Record, RowUpdate Row)> _held = new();
    private readonly List<MalformedUpdate> _malformed = new();
    private float[] _scratch;
    // One writer at a time: the Kafka loop, pushed records and checkpoints may come from different threads.
    private readonly SemaphoreSlim _writer = new(1, 1);
    private readonly LearnedVocabulary? _vocabulary;

    /// <param name="model">The served model, whose feature vocabularies vocabulary records extend; null: such records are ignored.</param>
    public UpdateApplier(FasterRowStore store, DenseScorer? dense, ServingMetrics metrics, long stalenessBound = long.MaxValue / 4,
                         IReadOnlyDictionary<string, long>? startOffsets = null, ServingModel? model = null)
    {
        _store = store;
        _dense = dense;
        _metrics = metrics;
        StalenessBound = stalenessBound;
        _session = store.RentSession();
        _next = new Dictionary<string, long>(startOffsets ?? store.RecoveredOffsets);
        _scratch = new float[Math.Max(1, store.Catalog.MaxDim)];
        if (model is not null)
        {
            _vocabulary = new LearnedVocabulary(model);
            // The entries stored with the recovered checkpoint belong to its offsets: without them, values learned
            // before the restart would fall back to overflow rows (the topic resumes after their records).
            if (store.LoadVocabulary() is { } learned)
            {
                var restored = _vocabulary.Restore(learned);
                VocabularyConflicts += restored.Conflicts;
                _metrics.VocabularyConflicts.Add(restored.Conflicts);
            }
        }
    }

    /// <summary>Vocabulary entries learned from the topic (or restored with the store) and assigned, in total.</summary>
    public long VocabularyEntries => _vocabulary?.Count ?? 0;
    /// <summary>Vocabulary entries refused because they contradicted a mapping already held.</summary>
    public long VocabularyConflicts { get; private set; }

    public long StalenessBound { get; }
    public int MaxHeld { get; init; } = 1 << 20;
    public long Applied { get; private set; }
    public long Ignored { get; private set; }
    /// <summary>The first malformed records (at most 100 kept; all are counted in the metrics).</summary>
    public IReadOnlyList<MalformedUpdate> Malformed
    {
        get
        {
            _writer.Wait();
            try { return _malformed.ToArray(); }
            finally { _writer.Release(); }
        }
    }
    public int HeldCount => Volatile.Read(ref _heldCount);
    private int _heldCount;

    /// <summary>Next offset to read per "topic/partition", never past a held row.</summary>
    public IReadOnlyDictionary<string, long> Offsets
    {
        get
        {
            // Read while no record is being applied (the applying thread mutates the offsets).
            _writer.Wait();
            try { return OffsetsLocked(); }
            finally { _writer.Release(); }
        }
    }

    private Dictionary<string, long> OffsetsLocked()
    {
        var offsets = new Dictionary<string, long>(_next);
        foreach (var (r, _) in _held)
        {
            string k = r.PartitionKey;
            if (!offsets.TryGetValue(k, out long o) || r.Offset < o) offsets[k] = r.Offset;
        }
        return offsets;
    }

    /// <summary>Raised after each handled record, outside the applier's lock (tests and probes wait on it).</summary>
    public event Action<UpdateRecord, ApplyOutcome>? RecordHandled;

    public ApplyOutcome Apply(in UpdateRecord record)
    {
        ApplyOutcome outcome;
        _writer.Wait();
        try { outcome = ApplyLocked(record); }
        finally { _writer.Release(); }
        RecordHandled?.Invoke(record, outcome);
        return outcome;
    }

    private ApplyOutcome ApplyLocked(in UpdateRecord record)
    {
        string pk = record.PartitionKey;
        ApplyOutcome outcome;
        try
        {
            outcome = EmbeddingUpdateCodec.KindOf(record.Key.Span) switch
            {
                EmbeddingUpdateCodec.RowKind => ApplyRow(record, EmbeddingUpdateCodec.DecodeRow(record.Key.Span, record.Value.Span)),
                EmbeddingUpdateCodec.VocabularyKind => ApplyVocabulary(EmbeddingUpdateCodec.DecodeVocabulary(record.Key.Span, record.Value.Span)),
                _ => ApplyDense(record),
            };
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidDataException)
        {
            _metrics.UpdatesMalformed.Add();
            if (_malformed.Count < 100) _malformed.Add(new MalformedUpdate(record.Topic, record.Partition, record.Offset, e.Message));
            outcome = ApplyOutcome.Malformed;
        }
        if (!_next.TryGetValue(pk, out long next) || record.Offset + 1 > next) _next[pk] = record.Offset + 1;
        return outcome;
    }

    private ApplyOutcome ApplyRow(in UpdateRecord record, RowUpdate row)
    {
        if (!_store.Catalog.TryGet(row.Table, out var matrix))
            throw new InvalidDataException($"update row: table = '{row.Table}' is not a matrix of this model (known: {string.Join(", ", _store.Catalog.Matrices.Select(m => m.Name))}).");
        if (row.Row >= matrix.Rows) throw new InvalidDataException($"update row: row = {row.Row} is outside '{row.Table}' ({matrix.Rows} rows).");
        if (row.Values.Length != matrix.Dim) throw new InvalidDataException($"update row: dim = {row.Values.Length}, but '{row.Table}' rows have {matrix.Dim} values.");
        if (_dense is not null && row.ModelVersion > _dense.Version + StalenessBound && _held.Count < MaxHeld)
        {
            _held.Add((record, row));
            _heldCount = _held.Count;
            _metrics.UpdatesHeld.Add();
            return ApplyOutcome.Held;
        }
        return WriteRow(matrix, row);
    }

    private ApplyOutcome WriteRow(StoredMatrix matrix, RowUpdate row)
    {
        if (_scratch.Length < matrix.Dim) _scratch = new float[matrix.Dim];
        if (!_session.ApplyIfNotOlder(matrix.Id, row.Row, row.ModelVersion, row.Values.Span, _scratch))
        {
            Ignored++;
            _metrics.UpdatesIgnored.Add();
            return ApplyOutcome.Ignored;
        }
        Applied++;
        _metrics.UpdatesApplied.Add();
        if (row.SourceTimeUnixMs > 0)
        {
            double lag = Math.Max(0, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - row.SourceTimeUnixMs) / 1000.0;
            _metrics.Freshness.Observe(lag);
            _metrics.UpdateLagSeconds.Set(lag);
        }
        return ApplyOutcome.Applied;
    }

    private ApplyOutcome ApplyVocabulary(in VocabularyUpdate update)
    {
        if (_vocabulary is null)
        {
            Ignored++;
            _metrics.UpdatesIgnored.Add();
            return ApplyOutcome.Ignored;
        }
        var result = _vocabulary.Apply(update);
        _metrics.VocabularyEntriesApplied.Add(result.Added);
        if (result.Conflicts > 0)
        {
            VocabularyConflicts += result.Conflicts;
            _metrics.VocabularyConflicts.Add(result.Conflicts);
        }
        if (result.Added == 0)
        {
            Ignored++;
            _metrics.UpdatesIgnored.Add();
            return ApplyOutcome.Ignored;
        }
        Applied++;
        _metrics.UpdatesApplied.Add();
        return ApplyOutcome.Applied;
    }

    private ApplyOutcome ApplyDense(in UpdateRecord record)
    {
        var dense = EmbeddingUpdateCodec.DecodeDense(record.Value.Span);
        if (_dense is null || !_dense.Apply(dense.ModelVersion, dense.Payload.Span))
        {
            Ignored++;
            _metrics.UpdatesIgnored.Add();
            return ApplyOutcome.Ignored;
        }
        _store.SaveDense(dense.ModelVersion, dense.Payload.Span);
        Applied++;
        _metrics.UpdatesApplied.Add();
        _metrics.DenseModelVersion.Set(dense.ModelVersion);
        ReleaseHeld();
        return ApplyOutcome.Applied;
    }

    private void ReleaseHeld()
    {
        if (_held.Count == 0 || _dense is null) return;
        long limit = _dense.Version + StalenessBound;
        var keep = new List<(UpdateRecord, RowUpdate)>();
        foreach (var (record, row) in _held)
        {
            if (row.ModelVersion <= limit && _store.Catalog.TryGet(row.Table, out var m)) WriteRow(m, row);
            else keep.Add((record, row));
        }
        _held.Clear();
        _held.AddRange(keep);
        _heldCount = _held.Count;
    }

    /// <summary>Checkpoints the store with the current offsets (no record is applied meanwhile).</summary>
    public async Task<(Guid Token, IReadOnlyDictionary<string, long> Offsets)> CheckpointAsync(CancellationToken cancel = default)
    {
        await _writer.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            var offsets = OffsetsLocked();
            // Learned vocabulary entries go into the same cut as the offsets past their records.
            if (_vocabulary is { Dirty: true }) _store.SaveVocabulary(_vocabulary.Serialize());
            return (await _store.CheckpointAsync(offsets, cancel).ConfigureAwait(false), offsets);
        }
        finally
        {
            _writer.Release();
        }
    }

    /// <summary>
    /// Applies records from <paramref name="source"/> until cancelled, checkpointing every
    /// <paramref name="checkpointEvery"/> records or <paramref name="checkpointInterval"/> (whichever first, only when
    /// something was applied since).
    /// </summary>
    public async Task RunAsync(IUpdateSource source, long checkpointEvery, TimeSpan checkpointInterval, CancellationToken cancel)
    {
        source.Start(Offsets);
        var sinceCheckpoint = Stopwatch.StartNew();
        long handled = 0;
        while (!cancel.IsCancellationRequested)
        {
            bool got;
            UpdateRecord record;
            try { got = source.TryNext(TimeSpan.FromMilliseconds(100), out record, cancel); }
            catch (OperationCanceledException) { break; }
            if (got)
            {
                Apply(record);
                handled++;
            }
            if (handled > 0 && (handled >= checkpointEvery || sinceCheckpoint.Elapsed >= checkpointInterval))
            {
                await CheckpointAsync(CancellationToken.None).ConfigureAwait(false);
                handled = 0;
                sinceCheckpoint.Restart();
            }
        }
        if (handled > 0) await CheckpointAsync(CancellationToken.None).ConfigureAwait(false);
    }

    public void Dispose() => _store.Return(_session);
}
