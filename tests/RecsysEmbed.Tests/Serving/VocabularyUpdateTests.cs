using System.Diagnostics;
using RecsysEmbed.Core.Export;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Updates;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Serving.Metrics;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Service;
using RecsysEmbed.Serving.Store;
using RecsysEmbed.Serving.Updates;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Streaming.Training;
using RecsysEmbed.Tests.Streaming;
using RecsysEmbed.Training.Checkpoints;

namespace RecsysEmbed.Tests.Serving;

/// <summary>
/// Values the trainer first sees after the service's checkpoint: the trainer publishes which value owns each new
/// index ('V' records), the service assigns them into its vocabularies, serves the trained row, and keeps them across
/// a store checkpoint and recovery.
/// </summary>
public sealed class VocabularyUpdateTests : IDisposable
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(120);
    private readonly StreamFixture _f = new();

    public void Dispose() => _f.Dispose();

    private static UpdateRecord Record(long offset, byte[] key, byte[] value) => new("u", 0, offset, key, value);

    private static RowStoreOptions StoreOptions(string dir) => LoadedStore.Options(dir, memory: 16 << 20);

    [Fact]
    public async Task Applier_assigns_vocabulary_records_counts_conflicts_refuses_malformed_and_keeps_entries_across_recovery()
    {
        string dir = _f.NewDir("vocab-store");
        var model = ServingModel.Create(_f.Config, checkpoint: null); // empty vocabularies: every id overflows
        var c1 = model.Feature("C1")!;
        long[] ids = [1001, 1002, 1003];
        var overflow = ids.Select(c1.IdOfHashed).ToArray();
        long overflowOf1004 = c1.IdOfHashed(1004);
        var metrics = new ServingMetrics();
        var store = FasterRowStore.Open(new RowCatalog(model.Tables, _ => RowFormat.Fp32), StoreOptions(dir));
        var applier = new UpdateApplier(store, dense: null, metrics, model: model);
        long offset = 0;
        ApplyOutcome Apply(byte[] key, byte[] value) => applier.Apply(Record(offset++, key, value));

        Assert.Equal(ApplyOutcome.Applied, Apply(EmbeddingUpdateCodec.EncodeVocabularyKey("C1", 40), EmbeddingUpdateCodec.EncodeVocabularyValue(1, 0, ids)));
        Assert.Equal([40L, 41, 42], ids.Select(c1.IdOfHashed));
        Assert.NotEqual(overflow, ids.Select(c1.IdOfHashed));
        // Re-delivered: nothing new.
        Assert.Equal(ApplyOutcome.Ignored, Apply(EmbeddingUpdateCodec.EncodeVocabularyKey("C1", 40), EmbeddingUpdateCodec.EncodeVocabularyValue(1, 0, ids)));
        // Contradicting (1001 is at 40; index 41 is 1002's): refused, counted, the held mappings stay.
        Assert.Equal(ApplyOutcome.Ignored, Apply(EmbeddingUpdateCodec.EncodeVocabularyKey("C1", 41), EmbeddingUpdateCodec.EncodeVocabularyValue(2, 0, [1001, 1004])));
        Assert.Equal(2, applier.VocabularyConflicts);
        Assert.Equal(40, c1.IdOfHashed(1001));
        // Malformed: a feature without a vocabulary, indices beyond the capacity (2000), a truncated value.
        Assert.Equal(ApplyOutcome.Malformed, Apply(EmbeddingUpdateCodec.EncodeVocabularyKey("C9", 0), EmbeddingUpdateCodec.EncodeVocabularyValue(1, 0, [5])));
        Assert.Equal(ApplyOutcome.Malformed, Apply(EmbeddingUpdateCodec.EncodeVocabularyKey("C1", 1999), EmbeddingUpdateCodec.EncodeVocabularyValue(1, 0, [6, 7])));
        Assert.Equal(ApplyOutcome.Malformed, Apply(EmbeddingUpdateCodec.EncodeVocabularyKey("C1", 0), EmbeddingUpdateCodec.EncodeVocabularyValue(1, 0, [8])[..^2]));
        var malformed = applier.Malformed.Select(m => m.Error).ToArray();
        Assert.Contains("feature = 'C9'", malformed[0]);
        Assert.Contains("1999..2000", malformed[1]);
        Assert.Contains("count = 1", malformed[2]);
        Assert.Equal(overflowOf1004, c1.IdOfHashed(1004)); // the refused records assigned nothing
        string text = metrics.Render();
        Assert.Contains("recsys_vocabulary_entries_applied_total 3", text);
        Assert.Contains("recsys_vocabulary_conflicts_total 2", text);

        var (_, offsets) = await applier.CheckpointAsync();
        Assert.Equal(offset, offsets["u/0"]);
        // Learned after the checkpoint: not in it, so not recovered (the topic is read again from the stored offset).
        Assert.Equal(ApplyOutcome.Applied, Apply(EmbeddingUpdateCodec.EncodeVocabularyKey("C1", 43), EmbeddingUpdateCodec.EncodeVocabularyValue(3, 0, [1005])));

        // Abandoned without dispose (as after kill -9); a new model from the same (empty) training state recovers.
        var again = ServingModel.Create(_f.Config, checkpoint: null);
        using var recovered = FasterRowStore.Open(new RowCatalog(again.Tables, _ => RowFormat.Fp32), StoreOptions(dir));
        Assert.True(recovered.Recovered);
        Assert.Equal(offsets, recovered.RecoveredOffsets);
        Assert.Equal(overflow, ids.Select(again.Feature("C1")!.IdOfHashed)); // before the applier restores them
        using var resumed = new UpdateApplier(recovered, dense: null, new ServingMetrics(), model: again);
        Assert.Equal([40L, 41, 42], ids.Select(again.Feature("C1")!.IdOfHashed));
        Assert.Equal(3, resumed.VocabularyEntries);
        Assert.Equal(0, resumed.VocabularyConflicts);
        Assert.NotEqual(43, again.Feature("C1")!.IdOfHashed(1005));
        GC.KeepAlive(store);
    }

    [Fact]
    public async Task Values_first_trained_after_the_services_checkpoint_are_served_from_their_trained_rows_and_survive_recovery()
    {
        const int before = 256, total = 768;
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("imp", 1);
        kafka.CreateTopic("upd", 2);
        using var endpoint = KafkaEndpoint.ForEmbedded(kafka);
        _f.Produce(endpoint, "imp", maxRecords: total);

        // 1. The trainer trains the first records and checkpoints; the service starts from (a copy of) that checkpoint.
        string trainerDir = _f.NewDir("trainer");
        var options = _f.Options("imp", "g", trainerDir) with { TrackRecordIds = false };
        using (var first = new StreamTrainer(_f.Config, endpoint, options with { StopAfterRecords = before })) first.Run();
        string modelDir = _f.NewDir("model");
        CopyDirectory(trainerDir, modelDir);
        string storeDir = _f.NewDir("serve");
        var serve = new ServeOptions
        {
            ConfigPath = _f.ConfigPath, ModelDirectory = modelDir, StoreDirectory = storeDir, MemoryBudgetBytes = 16 << 20,
            UpdatesTopic = "upd", Kafka = endpoint, CheckpointInterval = TimeSpan.FromDays(1), CheckpointEveryRecords = long.MaxValue,
        };
        await using var host = await LookupServiceHost.StartAsync(serve, TextWriter.Null);
        var served = host.Model.Feature("C1")!;
        long known = served.Vocabulary!.Count;

        // 2. The trainer resumes from its checkpoint, trains the rest and publishes (vocabulary growth, rows, dense).
        using var trainer = new StreamTrainer(_f.Config, endpoint, options with { StopAfterRecords = total, PublishTopic = "upd", PublishIntervalMs = 0 });
        var report = trainer.Run();
        Assert.True(report.VocabularyRecordsPublished > 0);
        long published = report.RowsPublished + report.Publications + report.VocabularyRecordsPublished;
        var clock = Stopwatch.StartNew();
        while (host.Applier.Offsets.Values.Sum() < published && clock.Elapsed < HangGuard) await Task.Delay(20); // hang guard only
        Assert.Equal(published, host.Applier.Offsets.Values.Sum());
        Assert.Empty(host.Applier.Malformed);
        Assert.Equal(0, host.Applier.VocabularyConflicts);
        // A trainer restarted from a checkpoint republishes every entry it holds (like every row), not only its growth:
        // entries published before a crash are never missing from the topic.
        var topic = new Dictionary<long, long>();
        foreach (var r in EmbeddedKafkaTests.ConsumeAllBytes(kafka.BootstrapServers, "upd", (int)published))
        {
            if (EmbeddingUpdateCodec.KindOf(r.Message.Key) != EmbeddingUpdateCodec.VocabularyKind) continue;
            var v = EmbeddingUpdateCodec.DecodeVocabulary(r.Message.Key, r.Message.Value);
            if (v.Feature == "C1") for (int i = 0; i < v.Ids.Length; i++) topic[v.FirstIndex + i] = v.Ids.Span[i];
        }

        // Raw C1 values of the later records whose index the trainer assigned after the service's checkpoint.
        var trained = trainer.Vocabularies.All.Single(v => v.FeatureName == "C1");
        var fresh = RawC1(before, total).Distinct().Where(raw => trained.Find(served.Hasher.HashString(raw)) >= known).ToArray();
        Assert.True(fresh.Length >= 20, $"only {fresh.Length} C1 values were new after the checkpoint");
        Assert.True(known > 20);
        Assert.Equal(trained.Entries().Select(e => KeyValuePair.Create((long)e.Index, e.Id)), topic.OrderBy(kv => kv.Key));
        var matrix = trainer.Trainer.Tables.Tables.SelectMany(t => t.Matrices).Single(m => m.Name == "c1");
        var atCheckpoint = ServingModel.Create(_f.Config, CheckpointReader.OpenLatest(modelDir)).Feature("C1")!;
        int wouldOverflow = 0;
        foreach (string raw in fresh)
        {
            long index = trained.Find(served.Hasher.HashString(raw));
            Assert.Equal(index, served.IdOf(raw));
            Assert.Equal(matrix.Row(index).ToArray(), Lookup(host.Model, host.Store, raw));
            if (atCheckpoint.IdOf(raw) != index) wouldOverflow++; // what the service did before it learned the entry
        }
        Assert.True(wouldOverflow >= fresh.Length / 2, $"{wouldOverflow} of {fresh.Length} values would have been served from the wrong row");

        // 3. Store checkpoint, then the service is abandoned (no dispose, as after kill -9) and a new one recovers.
        await host.Applier.CheckpointAsync();
        var model = ServingModel.Create(_f.Config, CheckpointReader.OpenLatest(modelDir));
        // The host's layout: STORE/checkpoints and STORE/log/hlog.
        using var recovered = FasterRowStore.Open(new RowCatalog(model.Tables, _ => RowFormat.Fp32), LoadedStore.Options(storeDir, memory: 16 << 20));
        Assert.True(recovered.Recovered);
        using var applier = new UpdateApplier(recovered, dense: null, new ServingMetrics(), model: model);
        Assert.True(applier.VocabularyEntries >= fresh.Length);
        var c1 = model.Feature("C1")!;
        foreach (string raw in fresh)
        {
            long index = trained.Find(served.Hasher.HashString(raw));
            Assert.Equal(index, c1.IdOf(raw));
            Assert.Equal(matrix.Row(index).ToArray(), Lookup(model, recovered, raw));
        }
    }

    /// <summary>The pooled C1 vector the service returns for one raw value (the full table's row).</summary>
    private static float[] Lookup(ServingModel model, FasterRowStore store, string raw)
    {
        var engine = new LookupEngine(model, store);
        var binding = model.Feature("C1")!;
        var q = engine.Rent();
        try
        {
            q.BeginFeature(binding.Index);
            q.AddId(binding.IdOf(raw));
            var output = new float[engine.OutputLength(q, LookupShape.Pooled)];
            engine.Execute(q, LookupShape.Pooled, output);
            return output;
        }
        finally
        {
            engine.Return(q);
        }
    }

    private IEnumerable<string> RawC1(int start, int end) =>
        File.ReadLines(_f.DataPath).Skip(start).Take(end - start).Select(line => line.Split('\t')[14]).Where(v => v.Length > 0);

    private static void CopyDirectory(string from, string to)
    {
        foreach (string dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(dir.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, file.Replace(from, to));
    }
}
