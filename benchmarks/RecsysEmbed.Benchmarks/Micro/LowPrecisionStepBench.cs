using BenchmarkDotNet.Attributes;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;

namespace RecsysEmbed.Benchmarks.Micro;

/// <summary>
/// One training step (pooled forward + backward with row-wise Adagrad and the stochastic write-back) of a
/// low-precision table on 2 threads against the same table on 1 thread, in the same run (the baseline). Cardinality
/// 1M, dim 64, B = 4096 x L = 20, Zipf ids. Both tables compute the same bytes (tested), so the ratio is what the
/// parallel forward and update buy.
/// </summary>
[Config(typeof(KernelBenchConfig))]
public class LowPrecisionStepBench
{
    [Params(RowPrecision.Fp16, RowPrecision.Int8)] public RowPrecision Precision;
    public const long Cardinality = 1L << 20;
    public const int Dim = 64;

    private LowPrecisionTable _oneThread = null!, _twoThreads = null!;
    private long[][] _ids = null!;
    private int[] _offsets = null!;
    private float[] _output = null!, _grad = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var opt = SparseOptimizerSettings.RowWiseAdagrad(0.01f);
        _oneThread = new LowPrecisionTable("lp1", [new TableFeature("f")], Cardinality, Dim, Precision, opt) { Threads = 1 };
        _twoThreads = new LowPrecisionTable("lp2", [new TableFeature("f")], Cardinality, Dim, Precision, opt) { Threads = 2 };
        _ids = Enumerable.Range(0, BenchData.IdSets).Select(k => BenchData.Ids(Cardinality, IdDistribution.Zipf, BenchData.Bags * BenchData.Pooling, (ulong)(11 + 1000 * k))).ToArray();
        _offsets = BenchData.FixedOffsets(BenchData.Bags, BenchData.Pooling);
        _output = new float[BenchData.Bags * Dim];
        var random = new Random(5);
        _grad = Enumerable.Range(0, _output.Length).Select(_ => (float)(random.NextDouble() - 0.5) * 1e-3f).ToArray();
    }

    private float Step(LowPrecisionTable t)
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
