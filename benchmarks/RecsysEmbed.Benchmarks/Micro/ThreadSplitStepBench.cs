using BenchmarkDotNet.Attributes;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Benchmarks.Micro;

/// <summary>
/// One training step (pooled forward + backward with row-wise Adagrad) of a low-precision, ROBE or TT (rank 16) table on 2 threads
/// against the same table on 1 thread, in the same run (the baseline). 1M ids (ROBE: an array of 1M x 64 / 16
/// weights), dim 64, B = 4096 x L = 20, Zipf ids. Both give the same bytes (ThreadDeterminismTests), so the ratio is
/// what splitting the kernels across the 2 threads buys.
/// </summary>
[Config(typeof(KernelBenchConfig))]
public class ThreadSplitStepBench
{
    [Params("lp-fp16", "lp-int8", "robe", "tt")] public string Family = "lp-fp16";
    public const long Cardinality = 1L << 20;
    public const int Dim = 64;

    private IEmbeddingTable _oneThread = null!, _twoThreads = null!;
    private long[][] _ids = null!;
    private int[] _offsets = null!;
    private float[] _output = null!, _grad = null!;
    private int _next;

    private IEmbeddingTable Create(string name, int threads)
    {
        var opt = SparseOptimizerSettings.RowWiseAdagrad(0.01f);
        IEmbeddingTable table = Family switch
        {
            "lp-fp16" => new LowPrecisionTable(name, [new TableFeature("f")], Cardinality, Dim, RowPrecision.Fp16, opt),
            "lp-int8" => new LowPrecisionTable(name, [new TableFeature("f")], Cardinality, Dim, RowPrecision.Int8, opt),
            "robe" => new RobeTable(name, [new TableFeature("f")], Cardinality * Dim / 16, Dim, 16, opt),
            _ => new TensorTrainTable(name, [new TableFeature("f")], Cardinality, Dim, 16, opt),
        };
        table.Threads = threads;
        return table;
    }

    [GlobalSetup]
    public void Setup()
    {
        _oneThread = Create("one", 1);
        _twoThreads = Create("two", 2);
        _ids = Enumerable.Range(0, BenchData.IdSets).Select(k => BenchData.Ids(Cardinality, IdDistribution.Zipf, BenchData.Bags * BenchData.Pooling, (ulong)(11 + 1000 * k))).ToArray();
        _offsets = BenchData.FixedOffsets(BenchData.Bags, BenchData.Pooling);
        _output = new float[BenchData.Bags * Dim];
        var random = new Random(5);
        _grad = Enumerable.Range(0, _output.Length).Select(_ => (float)(random.NextDouble() - 0.5) * 1e-3f).ToArray();
    }

    private float Step(IEmbeddingTable t)
    {
        var input = new JaggedFeature(_ids[_next++ % BenchData.IdSets], _offsets);
        t.Forward(0, input, _output);
        t.Backward(0, input, _grad);
        return _output[0];
    }

    [Benchmark(Baseline = true)] public float OneThread() => Step(_oneThread);
    [Benchmark] public float TwoThreads() => Step(_twoThreads);

    [GlobalCleanup]
    public void Cleanup()
    {
        _oneThread.Dispose();
        _twoThreads.Dispose();
    }
}
