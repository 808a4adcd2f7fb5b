namespace RecsysEmbed.Streaming.Training;

/// <summary>Settings of one <see cref="StreamTrainer"/> run. Immutable; units in the names.</summary>
public sealed record StreamTrainerOptions
{
    public required string Topic { get; init; }
    public required string GroupId { get; init; }
    public required string CheckpointDir { get; init; }

    /// <summary>Records per micro-batch, and the block size that aligns batches to offsets (default: config training.batch_size).</summary>
    public int? BatchRecords { get; init; }

    /// <summary>Checkpoint (then commit offsets) every N trained batches; 0: only on time, revoke and stop.</summary>
    public int CheckpointEveryBatches { get; init; } = 50;

    /// <summary>Also checkpoint when this much time passed since the last one and something was trained; 0: off.</summary>
    public int CheckpointIntervalMs { get; init; } = 30_000;

    /// <summary>Topic the embedding updates are published to; null: no publication.</summary>
    public string? PublishTopic { get; init; }

    /// <summary>Publish at most this often between checkpoints (and always after a checkpoint).</summary>
    public int PublishIntervalMs { get; init; } = 1_000;

    /// <summary>Dead-letter topic for malformed records (default: &lt;topic&gt;.dlq).</summary>
    public string? DeadLetterTopic { get; init; }

    /// <summary>Records larger than this are malformed (oversized).</summary>
    public int MaxRecordBytes { get; init; } = 64 << 10;

    /// <summary>Stop (draining partial batches, checkpointing, committing) once this many records are accounted for
    /// in the model's lineage: trained + dead-lettered + lost. Null: run until cancelled.</summary>
    public long? StopAfterRecords { get; init; }

    /// <summary>Threads for torch and the kernels; 1 makes training deterministic.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Keep the id of every trained record inside the checkpoints (tests: exactly-once accounting).</summary>
    public bool TrackRecordIds { get; init; }

    /// <summary>Consumer poll timeout; only affects how often time-based work (checkpoints, publication) is checked.</summary>
    public int PollMs { get; init; } = 100;

    public string DeadLetterTopicName => DeadLetterTopic ?? Topic + ".dlq";

    public void Validate()
    {
        if (BatchRecords is < 1) throw new ArgumentOutOfRangeException(nameof(BatchRecords), BatchRecords, "--batch-size must be >= 1.");
        if (CheckpointEveryBatches < 0) throw new ArgumentOutOfRangeException(nameof(CheckpointEveryBatches), CheckpointEveryBatches, "--checkpoint-every must be >= 0.");
        if (CheckpointIntervalMs < 0) throw new ArgumentOutOfRangeException(nameof(CheckpointIntervalMs), CheckpointIntervalMs, "--checkpoint-interval-ms must be >= 0.");
        if (PublishIntervalMs < 0) throw new ArgumentOutOfRangeException(nameof(PublishIntervalMs), PublishIntervalMs, "--publish-interval-ms must be >= 0.");
        if (MaxRecordBytes < 16) throw new ArgumentOutOfRangeException(nameof(MaxRecordBytes), MaxRecordBytes, "--max-record-bytes must be >= 16.");
        if (StopAfterRecords is < 1) throw new ArgumentOutOfRangeException(nameof(StopAfterRecords), StopAfterRecords, "--stop-after must be >= 1.");
        if (Threads < 1) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "--threads must be >= 1.");
    }
}

/// <summary>What the trainer reports while it runs (progress and events), and at the end.</summary>
public sealed record StreamTrainerReport
{
    public long RecordsTrained { get; init; }
    public long RecordsDeadLettered { get; init; }
    public long RecordsLost { get; init; }
    public long Batches { get; init; }
    public long Checkpoints { get; init; }
    public long Publications { get; init; }
    public long RowsPublished { get; init; }
    /// <summary>Vocabulary-growth records ('V') published (they precede the rows of their publication).</summary>
    public long VocabularyRecordsPublished { get; init; }
    public double ProgressiveAuc { get; init; }
    public double WindowAuc { get; init; }
    public double ProgressiveLogLoss { get; init; }
    public double SamplesPerSecond { get; init; }
    public double WallSeconds { get; init; }
    /// <summary>Time inside training steps (forward, backward, optimizers), the rest being consumption, parsing and waiting.</summary>
    public double TrainSeconds { get; init; }
    public double CheckpointSeconds { get; init; }
    public double PublishSeconds { get; init; }
    public double? FreshnessP50Ms { get; init; }
    public double? FreshnessP99Ms { get; init; }
    public long? ResumedFromStep { get; init; }
    public double OutageSeconds { get; init; }
    public int Outages { get; init; }
}
