using RecsysEmbed.Core.Export;
using RecsysEmbed.Core.Updates;
using RecsysEmbed.Serving.Metrics;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Store;
using RecsysEmbed.Serving.Updates;

namespace RecsysEmbed.Tests.Serving;

/// <summary>The FASTER row store and the lookup engine against a real training checkpoint.</summary>
public sealed class FasterRowStoreTests(TrainedModelFixture fixture) : IClassFixture<TrainedModelFixture>
{
    [Fact]
    public void Lookups_from_raw_values_equal_the_trained_tables_forward()
    {
        using var store = new LoadedStore(fixture);
        Assert.Equal(store.Catalog.TotalRows, store.LoadResult.Rows);
        const int lines = 48;
        var (expected, _, _, width) = fixture.Reference(0, lines);
        Assert.Equal(width, store.Model.EmbeddingWidth);
        for (int i = 0; i < lines; i++)
        {
            var actual = store.LookupLine(fixture.RawCategoricals(i), out long version);
            Assert.Equal(fixture.OpenCheckpoint().Step, version);
            // One value per feature per line, so every family's output is its single-id lookup: bit-exact.
            Assert.Equal(expected.AsSpan(i * width, width).ToArray(), actual);
        }
    }

    [Theory]
    [InlineData(RowFormat.Fp16)]
    [InlineData(RowFormat.Int8)]
    public void Compressed_rows_read_back_as_the_codec_decodes_the_trained_rows(RowFormat format)
    {
        using var exact = new LoadedStore(fixture);
        using var compressed = new LoadedStore(fixture, format);
        var exactSession = exact.Store.RentSession();
        var session = compressed.Store.RentSession();
        var encoded = new byte[RowCodec.EncodedBytes(format, 64)];
        foreach (var m in exact.Catalog.Matrices)
        {
            var trained = new float[m.Dim];
            var read = new float[m.Dim];
            var expected = new float[m.Dim];
            for (long r = 0; r < m.Rows; r += 1 + m.Rows / 50)
            {
                Assert.True(exactSession.TryRead(m.Id, r, trained, out _));
                Assert.True(session.TryRead(m.Id, r, read, out _));
                RowCodec.Encode(format, trained, encoded);
                RowCodec.Decode(format, encoded, expected);
                Assert.Equal(expected, read);
            }
        }
    }

    [Fact]
    public void Updates_apply_in_order_and_idempotently()
    {
        using var store = new LoadedStore(fixture);
        var metrics = new ServingMetrics();
        using var applier = new UpdateApplier(store.Store, dense: null, metrics);
        long step = fixture.OpenCheckpoint().Step;
        var m = store.Catalog.Matrices.First(x => x.Name == "t_ue");
        float[] v1 = Enumerable.Range(0, m.Dim).Select(i => 0.5f + i).ToArray();
        float[] v0 = Enumerable.Range(0, m.Dim).Select(i => -9f).ToArray();

        Assert.Equal(ApplyOutcome.Applied, applier.Apply(Row("u", 0, 10, "t_ue", 17, step + 2, v1)));
        // An older version of the same row, later in the stream: ignored (versions never go backwards).
        Assert.Equal(ApplyOutcome.Ignored, applier.Apply(Row("u", 0, 11, "t_ue", 17, step + 1, v0)));
        // The same record delivered again: no change.
        Assert.Equal(ApplyOutcome.Applied, applier.Apply(Row("u", 0, 10, "t_ue", 17, step + 2, v1)));
        var read = new float[m.Dim];
        var session = store.Store.RentSession();
        Assert.True(session.TryRead(m.Id, 17, read, out long version));
        Assert.Equal(v1, read);
        Assert.Equal(step + 2, version);

        // Malformed: unknown table, wrong dim, garbage bytes. Counted, set aside with the reason, offsets advance.
        Assert.Equal(ApplyOutcome.Malformed, applier.Apply(Row("u", 1, 0, "nope", 1, step + 3, v1)));
        Assert.Equal(ApplyOutcome.Malformed, applier.Apply(Row("u", 1, 1, "t_ue", 1, step + 3, [1f, 2f])));
        Assert.Equal(ApplyOutcome.Malformed, applier.Apply(new UpdateRecord("u", 1, 2, new byte[] { 9 }, new byte[] { 1, 2 })));
        Assert.Equal(3, metrics.UpdatesMalformed.Value);
        Assert.Contains("nope", applier.Malformed[0].Error);
        Assert.Contains("dim = 2", applier.Malformed[1].Error);
        Assert.Equal(new Dictionary<string, long> { ["u/0"] = 12, ["u/1"] = 3 }, applier.Offsets);
    }

    [Fact]
    public async Task Recovery_after_abandoning_the_store_restores_checkpointed_rows_and_offsets()
    {
        string dir = Path.Combine(fixture.Directory, $"store-{Guid.NewGuid():N}");
        var first = new LoadedStore(fixture, directory: dir);
        var m = first.Catalog.Matrices.First(x => x.Name == "t_hash");
        var applier = new UpdateApplier(first.Store, null, new ServingMetrics());
        float[] acked = Enumerable.Range(0, m.Dim).Select(i => 1f + i).ToArray();
        float[] lost = Enumerable.Range(0, m.Dim).Select(i => 7f).ToArray();
        applier.Apply(Row("u", 0, 0, "t_hash", 3, 100, acked));
        await applier.CheckpointAsync();
        applier.Apply(Row("u", 0, 1, "t_hash", 4, 101, lost));
        // Abandon the instance without disposing it (no clean shutdown), then recover from the same directories.
        var options = LoadedStore.Options(dir);
        using var recovered = FasterRowStore.Open(new RowCatalog(first.Model.Tables, _ => RowFormat.Fp32), options with { LogDevicePath = options.LogDevicePath });
        Assert.True(recovered.Recovered);
        Assert.Equal(new Dictionary<string, long> { ["u/0"] = 1 }, recovered.RecoveredOffsets);
        var session = recovered.RentSession();
        var read = new float[m.Dim];
        Assert.True(session.TryRead(m.Id, 3, read, out long v));
        Assert.Equal(acked, read);
        Assert.Equal(100, v);
        GC.KeepAlive(first);
    }

    [Fact]
    public void Rows_beyond_the_memory_budget_spill_to_the_log_device_and_read_back_identical()
    {
        // 65,536 rows x 8 floats (~4 MiB of records) through a 1 MiB in-memory log.
        var config = RecsysEmbed.Core.Config.ModelConfig.Parse("""
            name: spill
            embedding_dim: 8
            sparse_features: [{name: a}]
            tables: [{name: big, family: ue, features: [a], buckets: 65536}]
            """);
        var model = ServingModel.Create(config, null);
        string dir = Path.Combine(fixture.Directory, $"spill-{Guid.NewGuid():N}");
        var options = LoadedStore.Options(dir, memory: 1 << 20);
        using var store = FasterRowStore.Open(new RowCatalog(model.Tables, _ => RowFormat.Fp32), options);
        Assert.Equal(1 << 20, store.LogMemoryBytes);
        var session = store.RentSession();
        var row = new float[8];
        for (long r = 0; r < 65536; r++)
        {
            for (int d = 0; d < 8; d++) row[d] = r * 8 + d;
            session.Upsert(0, r, 1, row);
        }
        long logBytes = Directory.EnumerateFiles(Path.GetDirectoryName(options.LogDevicePath)!).Sum(f => new FileInfo(f).Length);
        Assert.True(logBytes >= 2 << 20, $"rows beyond the in-memory budget must be on the log device (found {logBytes} bytes)");
        var read = new float[8];
        for (long r = 0; r < 65536; r += 7)
        {
            Assert.True(session.TryRead(0, r, read, out long v));
            for (int d = 0; d < 8; d++) Assert.Equal(r * 8 + d, read[d]);
            Assert.Equal(1, v);
        }
        store.Return(session);
    }

    [Fact]
    public void Memory_budget_below_one_mebibyte_is_refused_naming_the_option()
    {
        var fixtureModel = ServingModel.Create(fixture.Config, null);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => FasterRowStore.Open(new RowCatalog(fixtureModel.Tables, _ => RowFormat.Fp32),
            LoadedStore.Options(Path.Combine(fixture.Directory, "x"), memory: 1000)));
        Assert.Contains("--memory", e.Message);
    }

    internal static UpdateRecord Row(string topic, int partition, long offset, string table, long row, long version, float[] values) =>
        new(topic, partition, offset, EmbeddingUpdateCodec.EncodeRowKey(table, row),
            EmbeddingUpdateCodec.EncodeRowValue(version, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), values));
}
