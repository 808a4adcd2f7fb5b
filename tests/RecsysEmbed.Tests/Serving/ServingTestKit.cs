using RecsysEmbed.Client;
using RecsysEmbed.Core.Export;
using RecsysEmbed.Serving.Metrics;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Service;
using RecsysEmbed.Serving.Store;

namespace RecsysEmbed.Tests.Serving;

/// <summary>A store bulk-loaded from the fixture's checkpoint, in its own temporary directory.</summary>
internal sealed class LoadedStore : IDisposable
{
    public LoadedStore(TrainedModelFixture fixture, RowFormat format = RowFormat.Fp32, string? directory = null, bool load = true, long memory = 64L << 20, long hotCache = 0, bool resident = false)
    {
        Directory = directory ?? Path.Combine(fixture.Directory, $"store-{Guid.NewGuid():N}");
        var checkpoint = fixture.OpenCheckpoint();
        Model = ServingModel.Create(fixture.Config, checkpoint);
        Catalog = new RowCatalog(Model.Tables, _ => format);
        Store = FasterRowStore.Open(Catalog, Options(Directory, format, memory) with { HotCacheBytes = hotCache, Resident = resident });
        if (load && !Store.Recovered) LoadResult = Store.BulkLoad(checkpoint, version: checkpoint.Step);
        Engine = new LookupEngine(Model, Store);
    }

    public static RowStoreOptions Options(string directory, RowFormat format = RowFormat.Fp32, long memory = 64L << 20) => new()
    {
        CheckpointDirectory = Path.Combine(directory, "checkpoints"),
        LogDevicePath = Path.Combine(directory, "log", "hlog"),
        MemoryBudgetBytes = memory,
        DefaultFormat = format,
        ExpectedRows = 1 << 14,
    };

    public string Directory { get; }
    public ServingModel Model { get; }
    public RowCatalog Catalog { get; }
    public FasterRowStore Store { get; }
    public LookupEngine Engine { get; }
    public BulkLoadResult LoadResult { get; }

    /// <summary>Pooled vectors of all 26 features of a fixture line, in model feature order (B=1 row of the collection output).</summary>
    public float[] LookupLine(string[] raw, out long maxVersion)
    {
        var q = Engine.Rent();
        try
        {
            foreach (var f in Model.Features)
            {
                q.BeginFeature(Model.Features.ToList().IndexOf(f));
                string v = raw[int.Parse(f.Name[1..]) - 1];
                if (v.Length > 0) q.AddId(f.IdOf(v));
            }
            var output = new float[Engine.OutputLength(q, LookupShape.Pooled)];
            maxVersion = Engine.Execute(q, LookupShape.Pooled, output);
            return output;
        }
        finally
        {
            Engine.Return(q);
        }
    }

    /// <summary>
    /// Two reader threads read 8 rows of t_ue while this thread rewrites them 3,000 times (version k holds the value k
    /// in every column): no reader may see a torn row or a version going back, and every row ends as its last write.
    /// </summary>
    public void CheckReadersDuringUpdates()
    {
        var m = Catalog.Matrices.First(x => x.Name == "t_ue");
        const int rows = 8, writes = 3000, readers = 2;
        using var done = new CancellationTokenSource();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var readerThreads = Enumerable.Range(0, readers).Select(t => new Thread(() =>
        {
            var session = Store.RentSession();
            var last = new long[rows];
            var matrices = Enumerable.Repeat(m.Id, rows).ToArray();
            var rowIds = Enumerable.Range(0, rows).Select(r => (long)r).ToArray();
            var values = new float[rows * m.Dim];
            var versions = new long[rows];
            bool stopping = false;
            while (!stopping && failures.IsEmpty)
            {
                stopping = done.IsCancellationRequested; // one full pass after the writer finished
                session.Read(matrices, rowIds, values, versions);
                for (int r = 0; r < rows; r++)
                {
                    var row = values.AsSpan(r * m.Dim, m.Dim);
                    if (versions[r] >= 1_000_000 && row.ContainsAnyExcept((float)versions[r]))
                        failures.Enqueue($"row {r} version {versions[r]} holds {string.Join(",", row.ToArray())}");
                    if (versions[r] < last[r]) failures.Enqueue($"row {r} went back from version {last[r]} to {versions[r]}");
                    last[r] = versions[r];
                }
            }
            Store.Return(session);
        })).ToArray();
        foreach (var t in readerThreads) t.Start();
        var writer = Store.RentSession();
        var scratch = new float[m.Dim];
        var row = new float[m.Dim];
        for (int k = 0; k < writes; k++)
        {
            long version = 1_000_000 + k;
            Array.Fill(row, version);
            Assert.True(writer.ApplyIfNotOlder(m.Id, k % rows, version, row, scratch));
        }
        done.Cancel();
        foreach (var t in readerThreads) Assert.True(t.Join(TimeSpan.FromMinutes(2)), "reader hung");
        Assert.Empty(failures);
        // After the writer finished, every row reads back as its last write.
        var read = new float[m.Dim];
        for (int r = 0; r < rows; r++)
        {
            Assert.True(writer.TryRead(m.Id, r, read, out long v));
            long expected = 1_000_000 + writes - rows + r;
            Assert.Equal(expected, v);
            Assert.All(read, x => Assert.Equal((float)expected, x));
        }
        Store.Return(writer);
    }

    public void Dispose()
    {
        Store.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// A lookup service on 127.0.0.1 over a freshly loaded store (with the dense scorer when asked), a gRPC client and an
/// HTTP client. Client deadlines are generous (2 min): a cold first call on a loaded machine must not fail a test
/// that is not about deadlines.
/// </summary>
internal sealed class RunningService : IAsyncDisposable
{
    public required LoadedStore Store { get; init; }
    public DenseScorer? Scorer { get; init; }
    public required LookupServer Server { get; init; }
    public required RecsysEmbedClient Client { get; init; }
    public required HttpClient Http { get; init; }

    public static readonly TimeSpan ClientDeadline = TimeSpan.FromMinutes(2);

    public static async Task<RunningService> Start(TrainedModelFixture fixture, LookupServiceOptions? options = null, string? clientKey = null, bool scorer = false)
    {
        options ??= new LookupServiceOptions();
        var store = new LoadedStore(fixture);
        DenseScorer? dense = null;
        if (scorer)
        {
            var checkpoint = fixture.OpenCheckpoint();
            dense = DenseScorer.FromCheckpoint(store.Model, checkpoint, checkpoint.Step);
        }
        var core = new LookupCore(store.Engine, dense, new ServingMetrics(), options);
        var server = await LookupServer.StartAsync(core, options);
        Assert.Equal(System.Net.IPAddress.Loopback, server.Bind);
        var http = new HttpClient { BaseAddress = new Uri(server.HttpAddress) };
        if (clientKey is not null) http.DefaultRequestHeaders.Add("x-api-key", clientKey);
        return new RunningService
        {
            Store = store, Scorer = dense, Server = server, Http = http,
            Client = new RecsysEmbedClient(server.GrpcAddress, new RecsysEmbedClientOptions { ApiKey = clientKey, DefaultDeadline = ClientDeadline }),
        };
    }

    /// <summary>A client of this service with its own key (null: none).</summary>
    public RecsysEmbedClient ClientWithKey(string? key) =>
        new(Server.GrpcAddress, new RecsysEmbedClientOptions { ApiKey = key, DefaultDeadline = ClientDeadline });

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Http.Dispose();
        await Server.DisposeAsync();
        Scorer?.Dispose();
        Store.Dispose();
    }
}
