using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Export;
using RecsysEmbed.Serving.Metrics;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Store;
using RecsysEmbed.Serving.Updates;
using RecsysEmbed.Streaming.Broker;
using RecsysEmbed.Training.Checkpoints;

namespace RecsysEmbed.Serving.Service;

/// <summary>Everything `serve` needs: model, store, update topic, network.</summary>
public sealed record ServeOptions
{
    /// <summary>Model config YAML (the one the checkpoint was trained with).</summary>
    public required string ConfigPath { get; init; }
    /// <summary>Training checkpoint directory (as written by train --checkpoint); its newest good checkpoint is served.</summary>
    public required string ModelDirectory { get; init; }
    /// <summary>Store directory: FASTER checkpoints; the log goes to <see cref="LogDevicePath"/> or STORE/log/hlog.</summary>
    public required string StoreDirectory { get; init; }
    public string? LogDevicePath { get; init; }
    public long MemoryBudgetBytes { get; init; } = 256L << 20;
    /// <summary>Hot-row cache in front of FASTER, in bytes (0: none); see <see cref="RowStoreOptions.HotCacheBytes"/>.</summary>
    public long HotCacheBytes { get; init; }
    /// <summary>Every row decoded in memory in front of FASTER; see <see cref="RowStoreOptions.Resident"/>.</summary>
    public bool Resident { get; init; }
    public RowFormat DefaultFormat { get; init; } = RowFormat.Fp32;
    public IReadOnlyDictionary<string, RowFormat> TableFormats { get; init; } = new Dictionary<string, RowFormat>();
    public int LoadThreads { get; init; } = Environment.ProcessorCount;
    public LookupServiceOptions Service { get; init; } = new();
    /// <summary>Update topic to follow; null: serve the checkpoint as it is (updates may still be pushed over HTTP).</summary>
    public string? UpdatesTopic { get; init; }
    /// <summary>Kafka bootstrap (host:port list or "embedded"), with pass-through client properties.</summary>
    public KafkaEndpoint? Kafka { get; init; }
    /// <summary>Checkpoint the store after this many update records, or this often, whichever comes first.</summary>
    public long CheckpointEveryRecords { get; init; } = 100_000;
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// The lookup service as one object: loads the model (config + newest training checkpoint), opens the store
/// (recovering its last checkpoint, or bulk-loading the training checkpoint into a new one), restores the dense
/// model, follows the update topic from the stored offsets, and serves gRPC + HTTP/JSON.
/// <code>
///   await using var host = await LookupServiceHost.StartAsync(options, log);
///   // host.Server.GrpcAddress, host.Server.HttpAddress, host.Applier, host.Metrics
/// </code>
/// Dispose stops the update loop (with a final store checkpoint), then the server, then the store.
/// </summary>
public sealed class LookupServiceHost : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _updates;
    private IUpdateSource? _source;

    private LookupServiceHost(ServingModel model, FasterRowStore store, DenseScorer scorer, UpdateApplier applier, ServingMetrics metrics)
    {
        Model = model;
        Store = store;
        Scorer = scorer;
        Applier = applier;
        Metrics = metrics;
    }

    public ServingModel Model { get; }
    public FasterRowStore Store { get; }
    public DenseScorer Scorer { get; }
    public UpdateApplier Applier { get; }
    public ServingMetrics Metrics { get; }
    public LookupServer Server { get; private set; } = null!;
    /// <summary>The bulk load of a new store (null when the store was recovered).</summary>
    public BulkLoadResult? Load { get; private set; }
    public long CheckpointStep { get; private set; }
    /// <summary>The update loop (completes when the host stops, or faults).</summary>
    public Task? Updates => _updates;

    public static async Task<LookupServiceHost> StartAsync(ServeOptions options, TextWriter log, CancellationToken cancel = default)
    {
        var config = ModelConfig.Load(options.ConfigPath);
        var checkpoint = CheckpointReader.OpenLatest(options.ModelDirectory, fallBackToPrevious: true);
        var model = ServingModel.Create(config, checkpoint);
        foreach (var t in options.TableFormats.Keys)
        {
            if (!model.Tables.Any(x => x.TableName == t))
                throw new ArgumentException($"--table-format: table '{t}' is not in the model ({string.Join(", ", model.Tables.Select(x => x.TableName))}).");
        }
        var catalog = new RowCatalog(model.Tables, t => options.TableFormats.TryGetValue(t, out var f) ? f : options.DefaultFormat);
        var store = FasterRowStore.Open(catalog, new RowStoreOptions
        {
            CheckpointDirectory = Path.Combine(options.StoreDirectory, "checkpoints"),
            LogDevicePath = options.LogDevicePath ?? Path.Combine(options.StoreDirectory, "log", "hlog"),
            MemoryBudgetBytes = options.MemoryBudgetBytes,
            HotCacheBytes = options.HotCacheBytes,
            Resident = options.Resident,
            ExpectedRows = catalog.TotalRows,
            DefaultFormat = options.DefaultFormat,
            TableFormats = options.TableFormats,
        });
        DenseScorer? scorer = null;
        UpdateApplier? applier = null;
        try
        {
            var metrics = new ServingMetrics();
            scorer = DenseScorer.FromCheckpoint(model, checkpoint, checkpoint.Step);
            BulkLoadResult? load = null;
            if (store.Recovered)
            {
                log.WriteLine($"store: recovered {options.StoreDirectory} (offsets {string.Join(", ", store.RecoveredOffsets.Select(kv => $"{kv.Key}={kv.Value}"))})");
                if (store.LoadDense() is { } dense && dense.Version > scorer.Version) scorer.Apply(dense.Version, dense.StateDict);
            }
            else
            {
                load = store.BulkLoad(checkpoint, checkpoint.Step, options.LoadThreads);
                log.WriteLine($"store: loaded {load.Value.Rows:N0} rows from {checkpoint.Path} in {load.Value.Seconds:F2} s ({load.Value.RowsPerSecond:N0} rows/s)");
            }
            metrics.DenseModelVersion.Set(scorer.Version);
            applier = new UpdateApplier(store, scorer, metrics, options.Service.StalenessBound, model: model);
            if (!store.Recovered) await applier.CheckpointAsync(cancel).ConfigureAwait(false);
            var host = new LookupServiceHost(model, store, scorer, applier, metrics) { Load = load, CheckpointStep = checkpoint.Step };
            var engine = new LookupEngine(model, store);
            host.Server = await LookupServer.StartAsync(new LookupCore(engine, scorer, metrics, options.Service, applier), options.Service, cancel).ConfigureAwait(false);
            if (options.UpdatesTopic is not null)
            {
                var kafka = options.Kafka ?? throw new ArgumentException("--updates-topic needs --bootstrap.");
                host._source = new KafkaUpdateSource(kafka.ConsumerConfig("recsys-embed-serving"), options.UpdatesTopic);
                host._updates = Task.Run(() => applier.RunAsync(host._source, options.CheckpointEveryRecords, options.CheckpointInterval, host._stop.Token));
            }
            return host;
        }
        catch
        {
            applier?.Dispose();
            scorer?.Dispose();
            store.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_updates is not null)
        {
            try { await _updates.ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
        _source?.Dispose();
        if (Server is not null) await Server.DisposeAsync().ConfigureAwait(false);
        Applier.Dispose();
        Scorer.Dispose();
        Store.Dispose();
    }
}
