using System.Runtime.InteropServices;
using Confluent.Kafka;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Core.Updates;
using RecsysEmbed.Training;

namespace RecsysEmbed.Streaming.Publishing;

/// <summary>
/// Publishes what changed in a model since the last publication to the update topic, in
/// <see cref="EmbeddingUpdateCodec"/>'s format: one record per changed row, keyed by (matrix, row) so that all
/// versions of a row land in one partition in order, then the dense model as one record under the dense key.
/// <para>Changed rows are found exactly by comparing each matrix with a copy of what was last published (bitwise),
/// which costs one extra copy of the weights and a linear scan per publication, and needs no hook in the kernels.</para>
/// <para>Vocabulary growth goes first: the ids that got dense indices since the last publication (full/qr/md features),
/// as 'V' records of at most <see cref="VocabularyChunkIds"/> ids, acknowledged before any row of the same publication
/// is produced, so a row of a new index is never in the topic before the record naming the value that owns it.
/// Like rows (compared with zeros at start), a new publisher starts at index 0: a trainer restarted from a checkpoint
/// republishes every entry it holds, so nothing published before a crash goes missing; the service's Assign
/// ignores the duplicates.</para>
/// <para>Model versions: <c>incarnation * 2^32 + publication</c>, incarnation = Unix seconds at start, so versions
/// keep increasing across restarts even when a restarted trainer republishes rows from an older checkpoint.</para>
/// </summary>
public sealed class UpdatePublisher : IDisposable
{
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly string _topic;
    private readonly CtrTrainer _trainer;
    private readonly (EmbeddingMatrix Matrix, float[] Published)[] _matrices;
    private readonly long _incarnation;
    private long _publication;
    private readonly byte[] _keyBuffer = new byte[1 << 16];
    private readonly IReadOnlyList<IdVocabulary> _vocabularies;
    private readonly long[] _vocabularyPublished;

    /// <summary>Most ids per vocabulary record (32 KiB of ids: small next to a row batch, few records per publication).</summary>
    public const int VocabularyChunkIds = 4096;

    /// <param name="vocabularies">The trainer's id vocabularies, whose growth is published; null publishes none.</param>
    public UpdatePublisher(ProducerConfig config, string topic, CtrTrainer trainer, FeatureVocabularies? vocabularies = null)
    {
        RequirePublishable(trainer);
        config.EnableIdempotence = true;
        config.Acks = Acks.All;
        config.LingerMs ??= 5;
        config.MessageTimeoutMs ??= 0; // never give up on an update while the broker is away
        // The dense record is the whole dense model (DLRM 13-512-256-16 / 367-512-256-1: ~1.3 MB), above the
        // client's 1 MB default; a real cluster's update topic needs max.message.bytes raised to match.
        config.MessageMaxBytes ??= 64 << 20;
        _producer = new ProducerBuilder<byte[], byte[]>(config).Build();
        _topic = topic;
        _trainer = trainer;
        _matrices = trainer.Tables.Tables.SelectMany(t => t.Matrices).Select(m => (m, new float[m.WeightCount])).ToArray();
        _incarnation = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        _vocabularies = vocabularies?.All ?? [];
        _vocabularyPublished = new long[_vocabularies.Count];
    }

    /// <summary>
    /// Refuses a model with a table whose rows are not fp32 matrices (lp): rows go out as matrix rows, so such a
    /// table would be left out of every publication (and the lookup service does not serve it).
    /// </summary>
    /// <exception cref="ArgumentException">Naming the first such table and its family.</exception>
    public static void RequirePublishable(CtrTrainer trainer)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        if (trainer.Tables.Tables.FirstOrDefault(t => t.Matrices.Count == 0) is { } table)
            throw new ArgumentException(
                $"--publish-topic: table '{table.Name}' (family {table.Family}) stores no fp32 matrices, so its rows cannot be published (the lookup service does not serve this family); train without --publish-topic or use another family.",
                nameof(trainer));
    }

    public long Publications => _publication;
    public long RowsPublished { get; private set; }
    public long LastVersion { get; private set; } = -1;
    /// <summary>Vocabulary records ('V') published so far.</summary>
    public long VocabularyRecordsPublished { get; private set; }
    /// <summary>Vocabulary entries (id, index) published so far.</summary>
    public long VocabularyEntriesPublished { get; private set; }

    /// <summary>
    /// Publishes vocabulary growth (acknowledged first), then changed rows and the dense model, then waits until the
    /// broker acknowledged them. Returns the number of rows published.
    /// </summary>
    public long Publish(long sourceTimeUnixMs)
    {
        long version = checked(_incarnation * (1L << 32) + ++_publication);
        PublishVocabularyGrowth(version, sourceTimeUnixMs);
        long rows = 0;
        foreach (var (matrix, published) in _matrices)
        {
            int dim = matrix.Dim;
            for (long r = 0; r < matrix.Rows; r++)
            {
                var row = matrix.Row(r);
                var last = published.AsSpan((int)(r * dim), dim);
                if (MemoryMarshal.AsBytes(row).SequenceEqual(MemoryMarshal.AsBytes(last))) continue;
                row.CopyTo(last);
                int keyLength = EmbeddingUpdateCodec.WriteRowKey(_keyBuffer, matrix.Name, r);
                Produce(_keyBuffer.AsSpan(0, keyLength).ToArray(), EmbeddingUpdateCodec.EncodeRowValue(version, sourceTimeUnixMs, row));
                rows++;
            }
        }
        using (var stream = new MemoryStream())
        {
            using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) _trainer.Model.Module.save(writer);
            Produce(EmbeddingUpdateCodec.DenseKey.ToArray(), EmbeddingUpdateCodec.EncodeDenseValue(version, sourceTimeUnixMs, stream.ToArray()));
        }
        while (_producer.Flush(TimeSpan.FromSeconds(1)) > 0) { }
        if (_error is { } e) throw new KafkaException(e);
        RowsPublished += rows;
        LastVersion = version;
        return rows;
    }

    private void PublishVocabularyGrowth(long version, long sourceTimeUnixMs)
    {
        long records = 0, entries = 0;
        for (int v = 0; v < _vocabularies.Count; v++)
        {
            var vocabulary = _vocabularies[v];
            long first = _vocabularyPublished[v];
            var ids = vocabulary.IdsFrom(first);
            for (int start = 0; start < ids.Length; start += VocabularyChunkIds)
            {
                var chunk = ids.Slice(start, Math.Min(VocabularyChunkIds, ids.Length - start));
                Produce(EmbeddingUpdateCodec.EncodeVocabularyKey(vocabulary.FeatureName, first + start), EmbeddingUpdateCodec.EncodeVocabularyValue(version, sourceTimeUnixMs, chunk));
                records++;
                entries += chunk.Length;
            }
        }
        if (records == 0) return;
        // Acknowledged before any row is produced: the owner of a new index is in the topic before the index's row.
        while (_producer.Flush(TimeSpan.FromSeconds(1)) > 0) { }
        if (_error is { } e) throw new KafkaException(e);
        for (int v = 0; v < _vocabularies.Count; v++) _vocabularyPublished[v] = _vocabularies[v].Length;
        VocabularyRecordsPublished += records;
        VocabularyEntriesPublished += entries;
    }

    private Error? _error;

    private void Produce(byte[] key, byte[] value)
    {
        while (true)
        {
            try
            {
                _producer.Produce(_topic, new Message<byte[], byte[]> { Key = key, Value = value }, r => { if (r.Error.IsError) _error ??= r.Error; });
                return;
            }
            catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                _producer.Poll(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    public void Dispose() => _producer.Dispose();
}
