using BenchmarkDotNet.Attributes;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Benchmarks.Micro;

/// <summary>
/// Pooled forward cost of each family relative to the full table, same ids (cardinality 1M, B = 4096 x L = 20),
/// output width 64, 2 threads. Compressed families trade memory for extra gathers or arithmetic per id.
/// </summary>
[Config(typeof(KernelBenchConfig))]
public class FamilyForwardBench
{
    [Params(IdDistribution.Uniform, IdDistribution.Zipf)] public IdDistribution Dist;
    public const long Cardinality = 1L << 20;
    public const int Dim = 64;

    private readonly List<IEmbeddingTable> _tables = new();
    private FullTable _full = null!;
    private HashedTable _hash = null!, _multiHash = null!;
    private QuotientRemainderTable _qrAdd = null!, _qrMult = null!;
    private MixedDimensionTable _md = null!;
    private UnifiedTable _ue = null!;
    private long[][] _ids = null!;
    private int _next;
    private int[] _offsets = null!;
    private float[] _output = null!;

    [GlobalSetup]
    public void Setup()
    {
        var opt = SparseOptimizerSettings.RowWiseAdagrad(0.01f);
        TableFeature[] f = [new("f")];
        _tables.Add(_full = new FullTable("full", f, Cardinality, Dim, opt));
        _tables.Add(_hash = new HashedTable("hash", f, Cardinality / 4, Dim, 1, HashCombine.Sum, opt));
        _tables.Add(_multiHash = new HashedTable("multihash", f, Cardinality / 4, Dim, 2, HashCombine.Sum, opt));
        _tables.Add(_qrAdd = new QuotientRemainderTable("qr-add", f, Cardinality, Dim, QuotientRemainderTable.QuotientRemainderRadices(Cardinality, 64), QrCombine.Add, opt));
        _tables.Add(_qrMult = new QuotientRemainderTable("qr-mult", f, Cardinality, Dim, QuotientRemainderTable.QuotientRemainderRadices(Cardinality, 64), QrCombine.Multiply, opt));
        _tables.Add(_md = new MixedDimensionTable("md", f[0], Cardinality, [new MixedDimensionBlock(Cardinality, 16)], Dim, opt));
        _tables.Add(_ue = new UnifiedTable("ue", [new UnifiedFeature("f", Chunks: 2)], Cardinality / 4, Dim / 2, opt));
        foreach (var t in _tables) t.Threads = 2;
        _ids = Enumerable.Range(0, BenchData.IdSets).Select(k => BenchData.Ids(Cardinality, Dist, BenchData.Bags * BenchData.Pooling, (ulong)(11 + 1000 * k))).ToArray();
        _offsets = BenchData.FixedOffsets(BenchData.Bags, BenchData.Pooling);
        _output = new float[BenchData.Bags * Dim];
    }

    private float Run(IEmbeddingTable t)
    {
        t.Forward(0, new JaggedFeature(_ids[_next++ % BenchData.IdSets], _offsets), _output);
        return _output[0];
    }

    [Benchmark(Baseline = true)] public float Full() => Run(_full);
    [Benchmark] public float Hash() => Run(_hash);
    [Benchmark] public float MultiHash2Sum() => Run(_multiHash);
    [Benchmark] public float QrAdd() => Run(_qrAdd);
    [Benchmark] public float QrMult() => Run(_qrMult);
    [Benchmark] public float MixedDim16To64() => Run(_md);
    [Benchmark] public float Unified2Chunks() => Run(_ue);

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in _tables) t.Dispose();
    }
}
