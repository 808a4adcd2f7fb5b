using System.Diagnostics;
using Confluent.Kafka;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Schema;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Streaming.Publishing;
using RecsysEmbed.Streaming.Records;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Checkpoints;
using RecsysEmbed.Training.Metrics;

namespace RecsysEmbed.Streaming.Training;

/// <summary>Something the trainer wants its operator to know: progress, checkpoints, data loss, outages.</summary>
public readonly record struct StreamEvent(StreamEventKind Kind, string Message, long Batches, long Accounted);

public enum StreamEventKind { Started, Resumed, OffsetDisagreement, Batch, Checkpoint, CommitFailed, Published, DataLoss, DeadLetter, Outage, OutageOver, Assigned, Revoked, Lost, Stopped }

/// <summary>
/// Online CTR training from a Kafka topic, exactly once across crashes:
/// <code>
///   consume ─► PartitionBlock (offset-aligned micro-batch; malformed ─► dead-letter topic) ─► TrainStep
///     (progressive validation: scored before trained) ─► every N batches / T ms: checkpoint (model + offsets)
///     ─► durable ─► commit offsets to Kafka ─► publish changed rows + dense model to the update topic
/// </code>
/// On start the model and the offsets come from the newest good checkpoint and the consumer seeks there (a
/// disagreement with the group's committed offsets is reported). Records after the checkpoint are simply read
/// again, and because batches are cut at fixed offsets the replay trains exactly the same batches. On revoke
/// (rebalance) it checkpoints and commits before giving partitions up; lost partitions are dropped without a commit.
/// Single-threaded: every call on the consumer, the model and the checkpoint happens on the thread of <see cref="Run"/>.
/// </summary>
public sealed class StreamTrainer : IDisposable
{
    private readonly ModelConfig _config;
    private readonly KafkaEndpoint _endpoint;
    private readonly StreamTrainerOptions _options;
    private readonly Action<StreamEvent>? _onEvent;
    private readonly CtrTrainer _trainer;
    private readonly FeatureVocabularies _vocabularies;
    private readonly DatasetSchema _schema;
    private readonly int _blockRecords;
    private readonly RunState _run = new();
    private readonly StreamState _state;
    private readonly Dictionary<int, PartitionBlock> _blocks = [];
    private readonly StreamingCtrMetrics _metrics = new(windowSize: 1 << 16, histogramBins: 100_000);
    private readonly FreshnessRecorder _freshness = new();
    private readonly long? _resumedFrom;
    private float[] _predictions;
    private CtrBatch? _batch;
    private IConsumer<byte[]?, byte[]?>? _consumer;
    // Set before consumer.Close(): the group may still assign and revoke while this member leaves, and a blocking
    // broker call then (a committed-offsets read, a retried synchronous commit) can wait forever on a group that is
    // gone, since Confluent.Kafka's Commit takes no timeout.
    private bool _closing;
    // Whether the stop checkpoint's commit went through: nothing is trained after it, so a revoke while closing then
    // has nothing new to commit.
    private bool _stopCommitted;
    private DeadLetterSink? _deadLetters;
    private UpdatePublisher? _publisher;
    private long _batchesAtCheckpoint, _checkpoints, _trainedAtPublication;
    private readonly Stopwatch _clock = new(), _trainClock = new(), _sinceCheckpoint = new(), _sincePublication = new(), _checkpointClock = new(), _publishClock = new();
    private Stopwatch? _outage;
    private double _outageSeconds;
    private int _outages;
    private long _trainedThisRun;

    public StreamTrainer(ModelConfig config, KafkaEndpoint endpoint, StreamTrainerOptions options, Action<StreamEvent>? onEvent = null)
    {
        options.Validate();
        _config = config;
        _endpoint = endpoint;
        _options = options;
        _onEvent = onEvent;
        TorchRuntime.Configure(options.Threads, config.Training.Seed);
        var plan = EmbeddingPlan.Create(config);
        _trainer = TrainingRun.BuildTrainer(config, plan, options.Threads);
        if (options.PublishTopic is not null) UpdatePublisher.RequirePublishable(_trainer); // before any Kafka work
        _vocabularies = FeatureVocabularies.For(plan);
        _schema = new DatasetSchema("label", config.DenseFeatures, config.SparseFeatures.Select(f => f.Name).ToArray());
        _blockRecords = options.BatchRecords ?? config.Training.BatchSize;
        _predictions = new float[_blockRecords];

        var reader = CheckpointReader.TryOpenLatest(options.CheckpointDir, fallBackToPrevious: true);
        if (reader is null)
        {
            _state = new StreamState { Topic = options.Topic, RecordIds = options.TrackRecordIds ? [] : null };
        }
        else
        {
            _state = StreamState.ReadFrom(reader, options.TrackRecordIds);
            if (_state.Topic != options.Topic)
                throw new ArgumentException($"--checkpoint {options.CheckpointDir}: its checkpoints are of topic '{_state.Topic}', not --topic '{options.Topic}'.");
            TrainingCheckpoint.Restore(reader, _trainer, _vocabularies, _run);
            _resumedFrom = reader.Step;
            _batchesAtCheckpoint = _run.Batches;
            Emit(StreamEventKind.Resumed, $"resumed from {reader.Path}{(reader.FellBack ? " (newer checkpoints were refused)" : "")}: offsets {Offsets(_state.Offsets)}, {_state.Trained} trained, {_state.DeadLettered} dead-lettered, {_state.Lost} lost");
        }
    }

    public CtrTrainer Trainer => _trainer;

    /// <summary>The id vocabularies of full tables (needed to score held-out data with <see cref="Trainer"/>).</summary>
    public FeatureVocabularies Vocabularies => _vocabularies;

    /// <summary>Ids of every trained record of this model's lineage (with <see cref="StreamTrainerOptions.TrackRecordIds"/>).</summary>
    public IReadOnlyList<long>? RecordIds => _state.RecordIds;

    /// <summary>Consumes and trains until cancelled or <see cref="StreamTrainerOptions.StopAfterRecords"/> are accounted for.</summary>
    public StreamTrainerReport Run(CancellationToken cancel = default)
    {
        _clock.Restart();
        _sinceCheckpoint.Restart();
        _sincePublication.Restart();
        _deadLetters = new DeadLetterSink(_endpoint.ProducerConfig(), _options.DeadLetterTopicName);
        if (_options.PublishTopic is not null) _publisher = new UpdatePublisher(_endpoint.ProducerConfig(), _options.PublishTopic, _trainer, _vocabularies);
        var config = _endpoint.ConsumerConfig(_options.GroupId);
        config.EnableAutoCommit = false;
        config.EnableAutoOffsetStore = false;
        config.AutoOffsetReset = AutoOffsetReset.Earliest;
        config.EnablePartitionEof = false;
        // Only the timestamp (freshness) besides key and value: marshalling the topic name and headers of every
        // message costs more than parsing it. The topic is known (options.Topic).
        if (config.Get("dotnet.consumer.consume.result.fields") is null) config.ConsumeResultFields = "timestamp";
        config.ReconnectBackoffMs ??= 100;
        config.ReconnectBackoffMaxMs ??= 5_000;
        // Cooperative (incremental) rebalancing: only the partitions that move are revoked, and the revoke comes once
        // the group is stable again, so the commit made before giving them up is accepted (an eager revoke commits
        // while the group is joining, which the embedded broker refuses with REBALANCE_IN_PROGRESS).
        config.PartitionAssignmentStrategy ??= PartitionAssignmentStrategy.CooperativeSticky;
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetPartitionsAssignedHandler(OnAssigned)
            .SetPartitionsRevokedHandler(OnRevoked)
            .SetPartitionsLostHandler(OnLost)
            .SetErrorHandler((_, e) => OnError(e))
            .Build();
        _consumer = consumer;
        Emit(StreamEventKind.Started, $"consuming {_options.Topic} as group {_options.GroupId}; batches of {_blockRecords} records aligned to offsets");
        consumer.Subscribe(_options.Topic);
        bool drained = false;
        while (!cancel.IsCancellationRequested)
        {
            ConsumeResult<byte[]?, byte[]?>? record = null;
            try
            {
                record = consumer.Consume(_options.PollMs);
            }
            catch (ConsumeException e)
            {
                if (e.Error.IsFatal) throw;
                OnError(e.Error);
            }
            if (record is not null) Handle(record);
            if (StopReached())
            {
                foreach (var b in _blocks.Values) TrainBlock(b);
                drained = true;
                break;
            }
            if (_options.CheckpointIntervalMs > 0 && _sinceCheckpoint.ElapsedMilliseconds >= _options.CheckpointIntervalMs && _run.Batches > _batchesAtCheckpoint)
                Checkpoint("interval");
            else if (_publisher is not null && _sincePublication.ElapsedMilliseconds >= _options.PublishIntervalMs && _state.Trained > _trainedAtPublication)
                Publish();
        }
        _stopCommitted = Checkpoint(drained ? "stop after drain" : "stop", force: true, commitAttempts: int.MaxValue, cancel);
        _closing = true;
        consumer.Close();
        _consumer = null;
        _closing = false;
        Emit(StreamEventKind.Stopped, $"stopped: {_state.Trained} trained, {_state.DeadLettered} dead-lettered, {_state.Lost} lost");
        return Report();
    }

    private bool StopReached()
    {
        if (_options.StopAfterRecords is not { } n) return false;
        long pending = 0;
        foreach (var b in _blocks.Values) pending += b.Pending; // struct enumerator: no allocation per poll
        return _state.Accounted + pending >= n;
    }

    private void Handle(ConsumeResult<byte[]?, byte[]?> record)
    {
        if (_outage is not null)
        {
            _outageSeconds += _outage.Elapsed.TotalSeconds;
            Emit(StreamEventKind.OutageOver, $"broker reachable again after {_outage.Elapsed.TotalSeconds:F1} s; resuming");
            _outage = null;
        }
        if (!_blocks.TryGetValue(record.Partition.Value, out var block)) return;
        long offset = record.Offset.Value;
        while (true)
        {
            long before = block.Next;
            long gap = block.Admit(offset);
            if (gap < 0) return; // already consumed (a re-fetch after a reset): never train twice
            if (gap > 0)
                Emit(StreamEventKind.DataLoss, $"data loss: partition {record.Partition.Value} offsets {before}..{before + gap - 1} ({gap} records) are gone from the broker (retention or out-of-range reset) and were never trained");
            if (block.IsComplete) { TrainBlock(block); continue; }
            break;
        }
        try
        {
            if (record.Message.Value is not { } value) throw new MalformedStreamRecordException("value", "null (tombstone).");
            long id = ImpressionCodec.Decode(value, _schema.DenseCount, _schema.SparseCount, _options.MaxRecordBytes, block.Builder);
            block.RecordIds.Add(id);
            block.Timestamps.Add(record.Message.Timestamp.UnixTimestampMs);
        }
        catch (MalformedStreamRecordException e)
        {
            _deadLetters!.Send(record, _options.Topic, e.Field, e.Message);
            block.DeadLettered++;
            Emit(StreamEventKind.DeadLetter, $"dead letter: partition {record.Partition.Value} offset {offset}: {e.Message}");
        }
        block.Consumed();
        if (block.IsComplete) TrainBlock(block);
    }

    private void TrainBlock(PartitionBlock block)
    {
        int n = block.Builder.SampleCount;
        if (n > 0)
        {
            _trainClock.Start();
            _batch = block.Builder.Build(_batch);
            _vocabularies.Apply(_batch.Sparse);
            if (_predictions.Length < n) _predictions = new float[n];
            _trainer.TrainStep(_batch.Sparse, _batch.Dense, _batch.Labels, _predictions);
            _metrics.Add(_predictions.AsSpan(0, n), _batch.Labels);
            _trainClock.Stop();
            _run.Batches++;
            _run.Samples += n;
            _state.Trained += n;
            _trainedThisRun += n;
            _state.RecordIds?.AddRange(block.RecordIds);
            _freshness.TrainedMany(block.Timestamps);
        }
        _state.DeadLettered += block.DeadLettered;
        _state.Lost += block.Lost;
        block.Advance();
        if (n > 0)
        {
            Emit(StreamEventKind.Batch, "");
            if (_options.CheckpointEveryBatches > 0 && _run.Batches - _batchesAtCheckpoint >= _options.CheckpointEveryBatches) Checkpoint("every");
        }
    }

    /// <summary>Checkpoint (after making dead letters durable), then commit the same offsets, then publish.</summary>
    private bool Checkpoint(string reason, bool force = false, int commitAttempts = 1, CancellationToken cancel = default)
    {
        bool changed = _run.Batches > _batchesAtCheckpoint || _state.Accounted != _accountedAtCheckpoint || OffsetsChanged();
        if (changed || force)
        {
            _deadLetters?.Flush();
            foreach (var (p, b) in _blocks) if (b.Trained >= 0) _state.Offsets[p] = b.Trained;
            if (changed || !Directory.Exists(_options.CheckpointDir) || CheckpointReader.ListSteps(_options.CheckpointDir).Count == 0)
            {
                _checkpointClock.Start();
                var withConfig = TrainingCheckpoint.WithConfig(_config);
                string path = TrainingCheckpoint.Save(_options.CheckpointDir, _trainer, _vocabularies, _run, writer =>
                {
                    _state.WriteTo(writer);
                    withConfig?.Invoke(writer); // the same config entry offline training writes
                });
                _checkpointClock.Stop();
                _checkpoints++;
                _batchesAtCheckpoint = _run.Batches;
                _accountedAtCheckpoint = _state.Accounted;
                _checkpointedOffsets = new Dictionary<int, long>(_state.Offsets);
                Emit(StreamEventKind.Checkpoint, $"checkpoint ({reason}) {path}: offsets {Offsets(_state.Offsets)}");
            }
        }
        else if (reason == "revoke")
        {
            Emit(StreamEventKind.Checkpoint, $"checkpoint ({reason}): nothing trained since the newest one, which is current: offsets {Offsets(_state.Offsets)}");
        }
        _sinceCheckpoint.Restart();
        bool committed = Commit(commitAttempts, cancel);
        if (_publisher is not null && _state.Trained > _trainedAtPublication) Publish();
        return committed;
    }

    private long _accountedAtCheckpoint = -1;
    private Dictionary<int, long> _checkpointedOffsets = [];

    private bool OffsetsChanged() => _blocks.Any(kv => kv.Value.Trained >= 0 && (!_checkpointedOffsets.TryGetValue(kv.Key, out long o) || o != kv.Value.Trained));

    /// <summary>Commits the trained offsets; retries with backoff up to <paramref name="attempts"/> times.</summary>
    private bool Commit(int attempts, CancellationToken cancel)
    {
        var offsets = _blocks.Values.Where(b => b.Trained >= 0).Select(b => new TopicPartitionOffset(b.Partition, b.Trained)).ToList();
        if (offsets.Count == 0 || _consumer is null) return true;
        if (_closing && _stopCommitted) return true;
        int delayMs = 100;
        while (true)
        {
            try
            {
                _consumer.Commit(offsets);
                return true;
            }
            catch (KafkaException e)
            {
                bool retry = --attempts > 0 && !cancel.IsCancellationRequested;
                Emit(StreamEventKind.CommitFailed, $"offset commit failed ({e.Error.Reason}); the checkpoint is durable, so nothing is lost{(retry ? $"; retrying in {delayMs} ms" : "; retried at the next checkpoint")}");
                if (!retry) return false;
                Thread.Sleep(delayMs); // backoff between retries of a failed commit
                delayMs = Math.Min(delayMs * 2, 5_000);
            }
        }
    }

    private void Publish()
    {
        long source = _freshness.PendingSourceTime ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        _publishClock.Start();
        long rows = _publisher!.Publish(source);
        _publishClock.Stop();
        _freshness.Published(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        _trainedAtPublication = _state.Trained;
        _sincePublication.Restart();
        Emit(StreamEventKind.Published, $"published version {_publisher.LastVersion}: {rows} rows + dense model ({_publisher.VocabularyEntriesPublished} vocabulary entries so far)");
    }

    private IEnumerable<TopicPartitionOffset> OnAssigned(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions)
    {
        if (_closing)
        {
            // Nothing is consumed any more: take the partitions without reading the group's offsets (that read can
            // only time out now), and let the revoke that follows hand them back untouched.
            Emit(StreamEventKind.Assigned, $"assigned {string.Join(", ", partitions.Select(p => p.Partition.Value))} while closing: not consumed, handed back");
            return partitions.Select(tp => new TopicPartitionOffset(tp, Offset.Unset));
        }
        List<TopicPartitionOffset> committed;
        bool groupRead = true;
        try
        {
            committed = consumer.Committed(partitions, TimeSpan.FromSeconds(30));
        }
        catch (KafkaException e)
        {
            Emit(StreamEventKind.CommitFailed, $"could not read the group's committed offsets ({e.Error.Reason}); using the checkpoint's, else the group's as the client fetches them");
            committed = [];
            groupRead = false;
        }
        var result = new List<TopicPartitionOffset>();
        foreach (var tp in partitions)
        {
            long group = committed.FirstOrDefault(c => c.TopicPartition == tp)?.Offset.Value ?? -1;
            long start;
            if (_state.Offsets.TryGetValue(tp.Partition.Value, out long fromCheckpoint))
            {
                start = fromCheckpoint;
                if (group >= 0 && group != fromCheckpoint)
                    Emit(StreamEventKind.OffsetDisagreement, $"partition {tp.Partition.Value}: checkpoint offset {fromCheckpoint}, group committed {group}; seeking to the checkpoint's (the model holds exactly the records below it)");
            }
            else start = group >= 0 ? group : -1;
            _blocks[tp.Partition.Value] = new PartitionBlock(tp, start, _blockRecords, _schema, _config.HashSeed);
            // Unknown start: the beginning when the group has no offset; when the read failed, Unset lets the client fetch
            // the group's offset itself, rather than replaying a partition that another member already trained.
            result.Add(new TopicPartitionOffset(tp, start >= 0 ? new Offset(start) : groupRead ? Offset.Beginning : Offset.Unset));
        }
        if (result.Count > 0) Emit(StreamEventKind.Assigned, $"assigned {string.Join(", ", result.Select(r => $"{r.Partition.Value}@{(r.Offset == Offset.Beginning ? "beginning" : r.Offset == Offset.Unset ? "group's offset" : r.Offset.Value)}"))}");
        return result;
    }

    private void OnRevoked(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartitionOffset> partitions)
    {
        // Untrained records of a partial batch stay uncommitted: the next owner reads them again from the offset
        // committed here, which is exactly where this model's training of the partition stopped.
        foreach (var tp in partitions)
            if (_blocks.TryGetValue(tp.Partition.Value, out var b)) b.Reset(b.Trained);
        // While closing, one commit attempt: the stop checkpoint is durable and already committed where it could.
        bool committed = Checkpoint("revoke", commitAttempts: _closing ? 1 : 3);
        foreach (var tp in partitions)
        {
            _blocks.Remove(tp.Partition.Value);
            // Committed: the group knows where we stopped, and whoever owns the partition next continues there.
            // Not committed: keep our offset, so that if it comes back to us we continue from the model's position.
            if (committed) _state.Offsets.Remove(tp.Partition.Value);
        }
        Emit(StreamEventKind.Revoked, $"revoked {string.Join(", ", partitions.Select(p => p.Partition.Value))} after checkpoint{(committed ? " and commit" : " (commit failed: our offsets are kept)")}");
    }

    private void OnLost(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartitionOffset> partitions)
    {
        // No commit is possible any more. The model has trained everything below each block's Trained offset, so
        // that is where this trainer resumes if the partition comes back (rather than the group's older offset).
        foreach (var tp in partitions)
        {
            if (_blocks.Remove(tp.Partition.Value, out var b) && b.Trained >= 0) _state.Offsets[tp.Partition.Value] = b.Trained;
        }
        Emit(StreamEventKind.Lost, $"lost {string.Join(", ", partitions.Select(p => p.Partition.Value))} (session expired, no commit possible); if they come back, training continues from the model's own offsets");
    }

    private void OnError(Error e)
    {
        if (e.IsFatal) throw new KafkaException(e);
        if (e.Code is ErrorCode.Local_AllBrokersDown && _outage is null)
        {
            _outage = Stopwatch.StartNew();
            _outages++;
            Emit(StreamEventKind.Outage, $"broker outage: {e.Reason}; retrying with backoff (reconnect 100 ms .. 5 s), nothing is lost");
        }
    }

    public StreamTrainerReport Report()
    {
        var snap = _metrics.Snapshot();
        return new StreamTrainerReport
        {
            RecordsTrained = _state.Trained,
            RecordsDeadLettered = _state.DeadLettered,
            RecordsLost = _state.Lost,
            Batches = _run.Batches,
            Checkpoints = _checkpoints,
            Publications = _publisher?.Publications ?? 0,
            RowsPublished = _publisher?.RowsPublished ?? 0,
            VocabularyRecordsPublished = _publisher?.VocabularyRecordsPublished ?? 0,
            ProgressiveAuc = snap.CumulativeAuc.Auc,
            WindowAuc = snap.WindowAuc,
            ProgressiveLogLoss = snap.Cumulative.LogLoss,
            WallSeconds = _clock.Elapsed.TotalSeconds,
            TrainSeconds = _trainClock.Elapsed.TotalSeconds,
            CheckpointSeconds = _checkpointClock.Elapsed.TotalSeconds,
            PublishSeconds = _publishClock.Elapsed.TotalSeconds,
            SamplesPerSecond = _trainedThisRun / Math.Max(_clock.Elapsed.TotalSeconds, 1e-9),
            FreshnessP50Ms = _freshness.Percentile(0.50),
            FreshnessP99Ms = _freshness.Percentile(0.99),
            ResumedFromStep = _resumedFrom,
            OutageSeconds = _outageSeconds + (_outage?.Elapsed.TotalSeconds ?? 0),
            Outages = _outages,
        };
    }

    private void Emit(StreamEventKind kind, string message) =>
        _onEvent?.Invoke(new StreamEvent(kind, message, _run.Batches, _state.Accounted));

    private static string Offsets(IEnumerable<KeyValuePair<int, long>> offsets) =>
        "{" + string.Join(", ", offsets.Select(kv => $"{kv.Key}: {kv.Value}")) + "}";

    public void Dispose()
    {
        _publisher?.Dispose();
        _deadLetters?.Dispose();
        _trainer.Dispose();
    }
}
