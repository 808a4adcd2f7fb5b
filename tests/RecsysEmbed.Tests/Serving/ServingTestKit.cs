using RecsysEmbed.Core.Export;
using RecsysEmbed.Serving.Model;
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

    public void Dispose()
    {
        Store.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
