using BenchmarkDotNet.Attributes;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Export;
using RecsysEmbed.Serving.Loadgen;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Store;

namespace RecsysEmbed.Benchmarks.Micro;

/// <summary>
/// In-process lookup of 26 raw values (hash + address + read + combine + pool), as a server handles a request (query
/// and FASTER session rented per request), with and without the hot-row cache, over a stream of requests that does
/// not repeat within a measurement (unlike <see cref="ServingLookupBench"/>'s 1,024 replayed requests, whose rows stay
/// in the CPU caches). Store: the criteo-ue shape, a 1,048,576 x 16 fp32 unified table in memory. Mixes: values drawn
/// power-law skewed per feature as the synthetic generator does (<see cref="LoadShape.Zipf"/>, 1M values per feature),
/// or uniformly from 1M per feature (the cache's worst case), or ServingLookupBench's 1,024 uniform requests replayed
/// (rows hot in the CPU caches: what that benchmark measured). Time is per request (26 rows).
/// </summary>
[Config(typeof(ServingBenchConfig))]
[MinColumn, MedianColumn]
public class HotCacheLookupBench
{
    public enum RequestMix { Zipf, Uniform, Replay1024 }

    [Params(0, 32)]
    public int CacheMiB;

    [Params(RequestMix.Zipf, RequestMix.Uniform, RequestMix.Replay1024)]
    public RequestMix Mix;

    private const int Pool = 1 << 18;     // distinct requests, walked in order (several seconds of lookups before a repeat)
    private const int PerInvoke = 4096;
    private string _dir = null!;
    private FasterRowStore _store = null!;
    private LookupEngine _engine = null!;
    private string[][] _raw = null!;     // [request][feature]
    private float[] _output = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var yaml = "name: bench\nembedding_dim: 16\nsparse_features:\n" + string.Concat(Enumerable.Range(1, 26).Select(i => $"  - {{name: C{i}}}\n")) +
                   "default_table: {family: ue, buckets: 1048576}\n";
        var model = ServingModel.Create(ModelConfig.Parse(yaml), null);
        var catalog = new RowCatalog(model.Tables, _ => RowFormat.Fp32);
        _dir = Path.Combine(Path.GetTempPath(), $"recsys-hotcachebench-{Guid.NewGuid():N}");
        _store = FasterRowStore.Open(catalog, new RowStoreOptions
        {
            CheckpointDirectory = Path.Combine(_dir, "cp"), LogDevicePath = Path.Combine(_dir, "log", "hlog"), MemoryBudgetBytes = 512L << 20, ExpectedRows = catalog.TotalRows,
            HotCacheBytes = (long)CacheMiB << 20,
        });
        var session = _store.RentSession();
        var random = new Random(1);
        var row = new float[16];
        for (long r = 0; r < catalog.TotalRows; r++)
        {
            for (int d = 0; d < 16; d++) row[d] = (float)random.NextDouble();
            session.Upsert(0, r, 1, row);
        }
        _store.Return(session);
        _engine = new LookupEngine(model, _store);
        var shape = new LoadShape(26, 1_000_000) { Zipf = Mix == RequestMix.Zipf };
        var zipf = shape.Zipf ? shape.DrawZipf(Pool, 1) : null;
        // Replay1024: ServingLookupBench's mix (1,024 uniform requests replayed: their ~26k rows stay in the CPU caches).
        var table = shape.Values(); // one string per value, as the load generator uses them
        _raw = Enumerable.Range(0, Pool).Select(i => Mix == RequestMix.Replay1024 && i >= 1024 ? null! : Enumerable.Range(0, 26).Select(f => table[zipf is null ? random.Next(shape.Cardinality) : zipf[f][i]]).ToArray()).ToArray();
        if (Mix == RequestMix.Replay1024) for (int i = 1024; i < Pool; i++) _raw[i] = _raw[i % 1024];
        _output = new float[26 * 16];
        // Warm the cache with one pass over the pool (as a running server would be).
        for (int i = 0; i < Pool / PerInvoke; i++) Lookup26RawValuesRentPerRequest();
        var (hits, misses) = _store.CacheCounts();
        if (CacheMiB > 0) Console.WriteLine($"// hot cache {CacheMiB} MiB ({_store.Cache!.Capacity:N0} rows), {Mix}: hit rate over the warm-up pass {hits / (double)(hits + misses):P1}");
    }

    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public void Lookup26RawValuesRentPerRequest()
    {
        var features = _engine.Model.Features;
        for (int i = 0; i < PerInvoke; i++)
        {
            var raw = _raw[_next];
            _next = (_next + 1) & (Pool - 1);
            var q = _engine.Rent();
            for (int f = 0; f < 26; f++)
            {
                q.BeginFeature(f);
                q.AddId(features[f].IdOf(raw[f]));
            }
            _engine.Execute(q, LookupShape.Pooled, _output);
            _engine.Return(q);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var (hits, misses) = _store.CacheCounts();
        if (CacheMiB > 0) Console.WriteLine($"// hot cache {CacheMiB} MiB, {Mix}: hit rate over the whole run {hits / (double)(hits + misses):P1}");
        _store.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
