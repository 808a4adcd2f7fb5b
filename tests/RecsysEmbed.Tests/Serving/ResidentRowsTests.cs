using RecsysEmbed.Core.Export;
using RecsysEmbed.Serving.Metrics;
using RecsysEmbed.Serving.Store;
using RecsysEmbed.Serving.Updates;

namespace RecsysEmbed.Tests.Serving;

/// <summary>The resident tier (every row decoded in memory in front of FASTER): FASTER's bits, coherent, recovered.</summary>
public sealed class ResidentRowsTests(TrainedModelFixture fixture) : IClassFixture<TrainedModelFixture>
{
    [Theory]
    [InlineData(RowFormat.Fp32)]
    [InlineData(RowFormat.Fp16)]
    [InlineData(RowFormat.Int8)]
    public void Every_row_is_served_from_memory_with_fasters_bits(RowFormat format)
    {
        using var plain = new LoadedStore(fixture, format);
        using var resident = new LoadedStore(fixture, format, resident: true);
        Assert.NotNull(resident.Store.Resident);
        var plainSession = plain.Store.RentSession();
        var session = resident.Store.RentSession();
        long reads = 0;
        foreach (var m in plain.Catalog.Matrices)
        {
            var expected = new float[m.Dim];
            var read = new float[m.Dim];
            for (long r = 0; r < m.Rows; r += 1 + m.Rows / 50)
            {
                Assert.True(plainSession.TryRead(m.Id, r, expected, out long expectedVersion));
                Assert.True(session.TryRead(m.Id, r, read, out long version));
                reads++;
                Assert.Equal(expectedVersion, version);
                Assert.Equal(BitsOf(expected), BitsOf(read));
            }
        }
        // The bulk load filled the tier: not one read went to FASTER.
        Assert.Equal(reads, session.CacheHits);
        Assert.Equal(0, session.CacheMisses);

        // Whole requests through the engine (hashing, QR, MD + projection, UE) equal the FASTER-only store's.
        for (int i = 0; i < 24; i++)
        {
            var raw = fixture.RawCategoricals(i);
            var want = plain.LookupLine(raw, out long wantVersion);
            var got = resident.LookupLine(raw, out long gotVersion);
            Assert.Equal(wantVersion, gotVersion);
            Assert.Equal(BitsOf(want), BitsOf(got));
        }
        plain.Store.Return(plainSession);
        resident.Store.Return(session);
    }

    [Fact]
    public void Updates_are_written_through_and_an_older_version_changes_nothing()
    {
        using var store = new LoadedStore(fixture, resident: true);
        using var applier = new UpdateApplier(store.Store, dense: null, new ServingMetrics());
        long step = fixture.OpenCheckpoint().Step;
        var m = store.Catalog.Matrices.First(x => x.Name == "t_ue");
        var session = store.Store.RentSession();
        float[] v1 = Enumerable.Range(0, m.Dim).Select(i => 0.5f + i).ToArray();
        Assert.Equal(ApplyOutcome.Applied, applier.Apply(FasterRowStoreTests.Row("u", 0, 0, "t_ue", 9, step + 2, v1)));
        var read = new float[m.Dim];
        long hits = session.CacheHits;
        Assert.True(session.TryRead(m.Id, 9, read, out long version));
        Assert.Equal(hits + 1, session.CacheHits); // from the tier, not FASTER
        Assert.Equal(v1, read);
        Assert.Equal(step + 2, version);

        float[] old = Enumerable.Repeat(-3f, m.Dim).ToArray();
        Assert.Equal(ApplyOutcome.Ignored, applier.Apply(FasterRowStoreTests.Row("u", 0, 1, "t_ue", 9, step + 1, old)));
        Assert.True(session.TryRead(m.Id, 9, read, out version));
        Assert.Equal(v1, read);
        Assert.Equal(step + 2, version);
        store.Store.Return(session);
    }

    [Fact]
    public void A_row_being_written_is_read_from_faster_and_a_stale_fill_is_refused()
    {
        using var store = new LoadedStore(fixture, resident: true);
        var tier = store.Store.Resident!;
        var m = store.Catalog.Matrices.First(x => x.Name == "t_ue");
        var dst = new float[m.Dim];
        Assert.True(tier.TryRead(m.Id, 4, dst, out long loaded, out long token));

        // A writer holds the row: readers miss and may not fill.
        long held = tier.BeginUpdate(m.Id, 4);
        Assert.False(tier.TryRead(m.Id, 4, dst, out _, out long heldToken));
        Assert.Equal(-1, heldToken);
        Assert.False(tier.TryFill(m.Id, 4, heldToken, dst, loaded));
        float[] fresh = Enumerable.Range(0, m.Dim).Select(i => 5f + i).ToArray();
        tier.EndUpdate(m.Id, 4, held, fresh, loaded + 1);

        // A fill with the token taken before that write must not bring the old row back.
        float[] stale = Enumerable.Repeat(-1f, m.Dim).ToArray();
        Assert.False(tier.TryFill(m.Id, 4, token, stale, loaded));
        Assert.True(tier.TryRead(m.Id, 4, dst, out long version, out token));
        Assert.Equal(fresh, dst);
        Assert.Equal(loaded + 1, version);

        // A fill with a current token but an older version is refused too (versions never go back).
        Assert.False(tier.TryFill(m.Id, 4, token, stale, loaded));
        Assert.True(tier.TryRead(m.Id, 4, dst, out version, out _));
        Assert.Equal(fresh, dst);

        // A failed store write unloads the row: the next read goes to FASTER.
        tier.EndUpdate(m.Id, 4, tier.BeginUpdate(m.Id, 4), default, 0);
        Assert.False(tier.TryRead(m.Id, 4, dst, out _, out token));
        Assert.True(token >= 0);
    }

    [Fact]
    public void Concurrent_readers_during_updates_see_whole_rows_and_versions_that_never_go_back()
    {
        using var store = new LoadedStore(fixture, resident: true);
        store.CheckReadersDuringUpdates();
    }

    [Fact]
    public async Task A_recovered_resident_store_serves_the_checkpointed_rows_from_memory()
    {
        string dir = Path.Combine(fixture.Directory, $"store-{Guid.NewGuid():N}");
        var first = new LoadedStore(fixture, directory: dir, resident: true);
        var m = first.Catalog.Matrices.First(x => x.Name == "t_hash");
        var applier = new UpdateApplier(first.Store, null, new ServingMetrics());
        float[] acked = Enumerable.Range(0, m.Dim).Select(i => 2f + i).ToArray();
        applier.Apply(FasterRowStoreTests.Row("u", 0, 0, "t_hash", 3, 100, acked));
        await applier.CheckpointAsync();
        var expected = new float[m.Dim];
        var firstSession = first.Store.RentSession();
        Assert.True(firstSession.TryRead(m.Id, 11, expected, out long expectedVersion));

        // Abandon the instance (no clean shutdown) and recover with the tier on.
        using var recovered = FasterRowStore.Open(new RowCatalog(first.Model.Tables, _ => RowFormat.Fp32), LoadedStore.Options(dir) with { Resident = true });
        Assert.True(recovered.Recovered);
        var session = recovered.RentSession();
        long misses = session.CacheMisses;
        var read = new float[m.Dim];
        Assert.True(session.TryRead(m.Id, 3, read, out long v));
        Assert.Equal(acked, read);
        Assert.Equal(100, v);
        Assert.True(session.TryRead(m.Id, 11, read, out v));
        Assert.Equal(expected, read);
        Assert.Equal(expectedVersion, v);
        Assert.Equal(misses, session.CacheMisses); // warmed at recovery: both reads from memory
        GC.KeepAlive(first);
    }

    [Fact]
    public void Resident_and_hot_cache_together_are_refused_naming_both_options()
    {
        string dir = Path.Combine(fixture.Directory, $"store-{Guid.NewGuid():N}");
        var model = RecsysEmbed.Serving.Model.ServingModel.Create(fixture.Config, fixture.OpenCheckpoint());
        var e = Assert.Throws<ArgumentException>(() => FasterRowStore.Open(new RowCatalog(model.Tables, _ => RowFormat.Fp32),
            LoadedStore.Options(dir) with { Resident = true, HotCacheBytes = 1 << 20 }));
        Assert.Contains("--resident", e.Message);
        Assert.Contains("--hot-cache", e.Message);
    }

    [Fact]
    public void Metrics_count_row_reads_answered_from_memory_and_from_faster()
    {
        using var store = new LoadedStore(fixture, resident: true);
        var metrics = new ServingMetrics();
        var core = new RecsysEmbed.Serving.Service.LookupCore(store.Engine, null, metrics, new RecsysEmbed.Serving.Service.LookupServiceOptions());
        var m = store.Catalog.Matrices.First(x => x.Name == "t_ue");
        // One row unloaded (as after a failed write): its next read goes to FASTER.
        var tier = store.Store.Resident!;
        tier.EndUpdate(m.Id, 2, tier.BeginUpdate(m.Id, 2), default, 0);
        var session = store.Store.RentSession();
        var read = new float[m.Dim];
        for (int r = 0; r < 5; r++) Assert.True(session.TryRead(m.Id, r, read, out _));
        store.Store.Return(session);
        string text = metrics.Render();
        Assert.NotNull(core);
        Assert.Contains("recsys_store_row_reads_total{source=\"memory\"} 4\n", text);
        Assert.Contains("recsys_store_row_reads_total{source=\"faster\"} 1\n", text);
    }

    [Fact]
    public void A_model_too_big_for_memory_is_refused_naming_the_option_and_the_sizes()
    {
        // 2^46 rows x 16 floats: far beyond any machine's memory, and never allocated.
        var config = RecsysEmbed.Core.Config.ModelConfig.Parse("""
            name: huge
            embedding_dim: 16
            sparse_features: [{name: a}]
            tables: [{name: big, family: ue, features: [a], buckets: 70368744177664}]
            """);
        var model = RecsysEmbed.Serving.Model.ServingModel.Create(config, null);
        string dir = Path.Combine(fixture.Directory, $"huge-{Guid.NewGuid():N}");
        var e = Assert.Throws<ArgumentException>(() => FasterRowStore.Open(new RowCatalog(model.Tables, _ => RowFormat.Fp32), LoadedStore.Options(dir) with { Resident = true }));
        Assert.Contains("--resident", e.Message);
        Assert.Contains("70,368,744,177,664 rows", e.Message);
    }

    private static int[] BitsOf(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();
}
