using RecsysEmbed.Core.Export;
using RecsysEmbed.Serving.Metrics;
using RecsysEmbed.Serving.Store;
using RecsysEmbed.Serving.Updates;

namespace RecsysEmbed.Tests.Serving;

/// <summary>The hot-row cache in front of FASTER: same bits as FASTER, coherent with updates, never torn.</summary>
public sealed class HotRowCacheTests(TrainedModelFixture fixture) : IClassFixture<TrainedModelFixture>
{
    private const long CacheBytes = 4L << 20;

    [Theory]
    [InlineData(RowFormat.Fp32)]
    [InlineData(RowFormat.Int8)]
    public void Cached_reads_equal_faster_reads_bit_for_bit(RowFormat format)
    {
        using var plain = new LoadedStore(fixture, format);
        using var cached = new LoadedStore(fixture, format, hotCache: CacheBytes);
        Assert.NotNull(cached.Store.Cache);
        var plainSession = plain.Store.RentSession();
        var session = cached.Store.RentSession();
        foreach (var m in plain.Catalog.Matrices)
        {
            var expected = new float[m.Dim];
            var read = new float[m.Dim];
            for (long r = 0; r < m.Rows; r += 1 + m.Rows / 40)
            {
                Assert.True(plainSession.TryRead(m.Id, r, expected, out long expectedVersion));
                // First read misses and fills, the second hits the cache: both must be FASTER's bits.
                for (int pass = 0; pass < 2; pass++)
                {
                    Assert.True(session.TryRead(m.Id, r, read, out long version));
                    Assert.Equal(expectedVersion, version);
                    Assert.Equal(BitsOf(expected), BitsOf(read));
                }
            }
        }
        Assert.True(session.CacheHits > 0, "the second pass must have hit the cache");

        // Whole requests (every family: hashing, QR, MD + projection, UE) through the engine, twice.
        for (int i = 0; i < 24; i++)
        {
            var raw = fixture.RawCategoricals(i);
            var want = plain.LookupLine(raw, out long wantVersion);
            for (int pass = 0; pass < 2; pass++)
            {
                var got = cached.LookupLine(raw, out long gotVersion);
                Assert.Equal(wantVersion, gotVersion);
                Assert.Equal(BitsOf(want), BitsOf(got));
            }
        }
        plain.Store.Return(plainSession);
        cached.Store.Return(session);
    }

    [Fact]
    public void An_update_applied_after_a_row_was_cached_is_visible_in_the_next_lookup()
    {
        using var store = new LoadedStore(fixture, hotCache: CacheBytes);
        using var applier = new UpdateApplier(store.Store, dense: null, new ServingMetrics());
        long step = fixture.OpenCheckpoint().Step;
        var m = store.Catalog.Matrices.First(x => x.Name == "t_ue");
        var session = store.Store.RentSession();
        var read = new float[m.Dim];
        Assert.True(session.TryRead(m.Id, 17, read, out _));
        long hits = session.CacheHits;
        Assert.True(session.TryRead(m.Id, 17, read, out _));
        Assert.Equal(hits + 1, session.CacheHits); // the row is cached now

        float[] v1 = Enumerable.Range(0, m.Dim).Select(i => 0.25f + i).ToArray();
        Assert.Equal(ApplyOutcome.Applied, applier.Apply(FasterRowStoreTests.Row("u", 0, 0, "t_ue", 17, step + 2, v1)));
        hits = session.CacheHits;
        Assert.True(session.TryRead(m.Id, 17, read, out long version));
        Assert.Equal(v1, read);
        Assert.Equal(step + 2, version);
        Assert.Equal(hits + 1, session.CacheHits); // written through: served from the cache, not only from FASTER

        // An older version is ignored by FASTER and by the cache alike.
        float[] old = Enumerable.Range(0, m.Dim).Select(i => -3f).ToArray();
        Assert.Equal(ApplyOutcome.Ignored, applier.Apply(FasterRowStoreTests.Row("u", 0, 1, "t_ue", 17, step + 1, old)));
        Assert.True(session.TryRead(m.Id, 17, read, out version));
        Assert.Equal(v1, read);
        Assert.Equal(step + 2, version);
        store.Store.Return(session);
    }

    [Fact]
    public void A_fill_of_a_row_read_before_an_update_is_refused()
    {
        using var store = new LoadedStore(fixture, hotCache: CacheBytes);
        var cache = store.Store.Cache!;
        var m = store.Catalog.Matrices.First(x => x.Name == "t_ue");
        long key = FasterRowStore.Key(m.Id, 5);
        var session = store.Store.RentSession();
        var stale = new float[m.Dim];
        // A reader misses and reads FASTER (token taken before its read) ...
        Assert.False(cache.TryRead(key, stale, out _, out long token));
        Assert.True(token >= 0);
        Assert.True(session.TryRead(m.Id, 5, stale, out long staleVersion));
        // ... an update lands before the reader caches what it read ...
        float[] fresh = Enumerable.Range(0, m.Dim).Select(i => 9f + i).ToArray();
        session.Upsert(m.Id, 5, staleVersion + 1, fresh);
        // ... so its fill must be refused, and the next lookup sees the update.
        Assert.False(cache.TryFill(key, token, stale, staleVersion));
        var read = new float[m.Dim];
        Assert.True(session.TryRead(m.Id, 5, read, out long version));
        Assert.Equal(fresh, read);
        Assert.Equal(staleVersion + 1, version);
        store.Store.Return(session);
    }

    [Fact]
    public void A_reader_never_takes_a_row_a_writer_touched_during_its_copy()
    {
        using var cache = new HotRowCache(64 * 1024, 8);
        const long key = 42;
        float[] a = Enumerable.Repeat(1f, 8).ToArray();
        float[] b = Enumerable.Repeat(2f, 8).ToArray();
        Assert.False(cache.TryRead(key, new float[8], out _, out long token));
        Assert.True(cache.TryFill(key, token, a, 1));

        // 1. A write in progress: readers miss (and may not fill) instead of reading a half-written row.
        long held = cache.BeginUpdate(key);
        var dst = new float[8];
        Assert.False(cache.TryRead(key, dst, out _, out token));
        Assert.Equal(-1, token);
        Assert.False(cache.TryFill(key, token, a, 1));
        cache.EndUpdate(key, held, b, 2);
        Assert.True(cache.TryRead(key, dst, out long version, out _));
        Assert.Equal(b, dst);
        Assert.Equal(2, version);

        // 2. A write that starts and ends between a reader's first seq read and its copy: the copy is rejected.
        long seq = cache.ReadBegin(key);
        cache.EndUpdate(key, cache.BeginUpdate(key), a, 3);
        Assert.True(cache.ReadCopy(key, dst, out _));
        Assert.False(cache.ReadValidate(key, seq));

        // 3. A write between the reader's copy and its check: rejected too (what it copied is outdated).
        seq = cache.ReadBegin(key);
        Assert.True(cache.ReadCopy(key, dst, out _));
        cache.EndUpdate(key, cache.BeginUpdate(key), b, 4);
        Assert.False(cache.ReadValidate(key, seq));

        // 4. No write in between: accepted.
        seq = cache.ReadBegin(key);
        Assert.True(cache.ReadCopy(key, dst, out version));
        Assert.True(cache.ReadValidate(key, seq));
        Assert.Equal(b, dst);
        Assert.Equal(4, version);
    }

    [Fact]
    public void Concurrent_readers_during_updates_see_whole_rows_and_versions_that_never_go_back()
    {
        using var store = new LoadedStore(fixture, hotCache: CacheBytes);
        store.CheckReadersDuringUpdates();
    }

    [Fact]
    public void Budget_below_the_smallest_cache_is_rejected_naming_the_option()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new HotRowCache(100, 16));
        Assert.Contains("--hot-cache", e.Message);
    }

    private static int[] BitsOf(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();
}
