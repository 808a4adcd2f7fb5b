using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Export;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Store;

namespace RecsysEmbed.Benchmarks.Micro;

public sealed class ServingBenchConfig : ManualConfig
{
    public ServingBenchConfig()
    {
        AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(3).WithIterationCount(12).WithLaunchCount(1));
        AddDiagnoser(MemoryDiagnoser.Default);
        WithOption(ConfigOptions.DisableOptimizationsValidator, true);
    }
}

/// <summary>
/// One in-process lookup request of the criteo-ue shape: 26 features, one value each, pooled, against a FASTER store
/// holding a 1,048,576 x 16 unified table in memory. Per request: addressing, 26 batched FASTER reads (one epoch
/// entry), combine, pool. Time is per request (26 rows); rows/s = 26 / mean.
/// </summary>
[Config(typeof(ServingBenchConfig))]
[MinColumn, MedianColumn]
public class ServingLookupBench
{
    /// <summary>FASTER's isolation of reads from in-place updates (the store's default is RecordIsolation).</summary>
    [Params(FASTER.core.ConcurrencyControlMode.RecordIsolation, FASTER.core.ConcurrencyControlMode.LockTable)]
    public FASTER.core.ConcurrencyControlMode Isolation;

    private const int Requests = 1024;
    private string _dir = null!;
    private FasterRowStore _store = null!;
    private LookupEngine _engine = null!;
    private long[][] _ids = null!;       // [request][feature], already hashed (the store's cost alone)
    private string[][] _raw = null!;     // [request][feature], raw values (hashing included)
    private float[] _output = null!;

    [GlobalSetup]
    public void Setup()
    {
        var yaml = "name: bench\nembedding_dim: 16\nsparse_features:\n" + string.Concat(Enumerable.Range(1, 26).Select(i => $"  - {{name: C{i}}}\n")) +
                   "default_table: {family: ue, buckets: 1048576}\n";
        var model = ServingModel.Create(ModelConfig.Parse(yaml), null);
        var catalog = new RowCatalog(model.Tables, _ => RowFormat.Fp32);
        _dir = Path.Combine(Path.GetTempPath(), $"recsys-servebench-{Guid.NewGuid():N}");
        _store = FasterRowStore.Open(catalog, new RowStoreOptions
        {
            CheckpointDirectory = Path.Combine(_dir, "cp"), LogDevicePath = Path.Combine(_dir, "log", "hlog"), MemoryBudgetBytes = 512L << 20, ExpectedRows = catalog.TotalRows,
            ConcurrencyControl = Isolation,
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
        _raw = Enumerable.Range(0, Requests).Select(_ => Enumerable.Range(0, 26).Select(_ => "v" + random.Next(1_000_000)).ToArray()).ToArray();
        _ids = _raw.Select(r => r.Select((v, f) => model.Features[f].IdOf(v)).ToArray()).ToArray();
        _output = new float[26 * 16];
    }

    /// <summary>As a server handles requests: a query (with its FASTER session) rented and returned per request.</summary>
    [Benchmark(OperationsPerInvoke = Requests)]
    public void Lookup26RawValuesRentPerRequest()
    {
        var features = _engine.Model.Features;
        for (int i = 0; i < Requests; i++)
        {
            var q = _engine.Rent();
            var raw = _raw[i];
            for (int f = 0; f < 26; f++)
            {
                q.BeginFeature(f);
                q.AddId(features[f].IdOf(raw[f]));
            }
            _engine.Execute(q, LookupShape.Pooled, _output);
            _engine.Return(q);
        }
    }

    private int[] _matrices = null!;
    private long[][] _rows = null!;
    private long[] _versions = null!;

    [GlobalSetup(Targets = [nameof(Read26RowsOnly)])]
    public void SetupReads()
    {
        Setup();
        var addressing = _engine.Model.Features[0].Addressing;
        var physical = new RecsysEmbed.Core.Tables.Addressing.PhysicalRow[1];
        _rows = _ids.Select(r => r.Select((id, f) => { addressing.Resolve(f, id, physical); return physical[0].Row; }).ToArray()).ToArray();
        _matrices = new int[26];
        _versions = new long[26];
    }

    /// <summary>The FASTER part alone: 26 pre-addressed rows read in one batch (no hashing, addressing, pooling).</summary>
    [Benchmark(OperationsPerInvoke = Requests)]
    public void Read26RowsOnly()
    {
        var session = _store.RentSession();
        for (int i = 0; i < Requests; i++) session.Read(_matrices, _rows[i], _output, _versions);
        _store.Return(session);
    }

    /// <summary>The hashing part alone: 26 raw strings to ids.</summary>
    [Benchmark(OperationsPerInvoke = Requests)]
    public long Hash26Only()
    {
        long sum = 0;
        var features = _engine.Model.Features;
        for (int i = 0; i < Requests; i++)
        {
            var raw = _raw[i];
            for (int f = 0; f < 26; f++) sum += features[f].IdOf(raw[f]);
        }
        return sum;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = Requests)]
    public void Lookup26PreHashed()
    {
        var q = _engine.Rent();
        for (int i = 0; i < Requests; i++)
        {
            q.Clear();
            var ids = _ids[i];
            for (int f = 0; f < 26; f++)
            {
                q.BeginFeature(f);
                q.AddId(ids[f]);
            }
            _engine.Execute(q, LookupShape.Pooled, _output);
        }
        _engine.Return(q);
    }

    [Benchmark(OperationsPerInvoke = Requests)]
    public void Lookup26RawValues()
    {
        var q = _engine.Rent();
        var features = _engine.Model.Features;
        for (int i = 0; i < Requests; i++)
        {
            q.Clear();
            var raw = _raw[i];
            for (int f = 0; f < 26; f++)
            {
                q.BeginFeature(f);
                q.AddId(features[f].IdOf(raw[f]));
            }
            _engine.Execute(q, LookupShape.Pooled, _output);
        }
        _engine.Return(q);
    }
}
