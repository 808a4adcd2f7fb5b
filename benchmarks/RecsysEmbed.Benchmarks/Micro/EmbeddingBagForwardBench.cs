using BenchmarkDotNet.Attributes;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Benchmarks.Micro;

/// <summary>
/// Pooled sum forward of a FullTable against TorchSharp's nn.EmbeddingBag(mode sum) on the same ids and thread
/// count (B = 4096 bags x L = 20, dim 64). The shapes are chosen by the subclasses' parameters.
/// </summary>
public abstract class EmbeddingBagForwardBench
{
    public const int Dim = 64;

    protected abstract long TableRows { get; }
    protected abstract IdDistribution Ids { get; }
    protected abstract int KernelThreadCount { get; }
    protected abstract ulong IdSeed { get; }
    /// <summary>Forward never touches optimizer state; the large table uses SGD to keep its memory at 4 GiB.</summary>
    protected abstract SparseOptimizerSettings Optimizer { get; }

    private FullTable _table = null!;
    private long[][] _ids = null!;
    private int _next;
    private int[] _offsets = null!;
    private float[] _output = null!;
    private TorchSharp.Modules.EmbeddingBag _torchBag = null!;
    private Tensor[] _torchIds = null!;
    private Tensor _torchOffsets = null!;

    [GlobalSetup]
    public void Setup()
    {
        _table = new FullTable("bench", [new TableFeature("f")], TableRows, Dim, Optimizer) { Threads = KernelThreadCount };
        _ids = Enumerable.Range(0, BenchData.IdSets).Select(k => BenchData.Ids(TableRows, Ids, BenchData.Bags * BenchData.Pooling, IdSeed + 1000 * (ulong)k)).ToArray();
        _offsets = BenchData.FixedOffsets(BenchData.Bags, BenchData.Pooling);
        _output = new float[BenchData.Bags * Dim];
        torch.set_num_threads(KernelThreadCount);
        _torchBag = nn.EmbeddingBag(TableRows, Dim, mode: EmbeddingBagMode.Sum);
        _torchIds = _ids.Select(ids => torch.tensor(ids, dtype: ScalarType.Int64)).ToArray();
        _torchOffsets = torch.tensor(_offsets.AsSpan(0, BenchData.Bags).ToArray().Select(o => (long)o).ToArray(), dtype: ScalarType.Int64);
    }

    [Benchmark(Baseline = true)]
    public float TorchSharpEmbeddingBag()
    {
        using var noGrad = torch.no_grad();
        using var output = _torchBag.call(_torchIds[_next++ % BenchData.IdSets], _torchOffsets);
        return output.shape[0];
    }

    [Benchmark]
    public float RecsysFullTable()
    {
        _table.Forward(0, new JaggedFeature(_ids[_next++ % BenchData.IdSets], _offsets), _output);
        return _output[0];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _table.Dispose();
        _torchBag.Dispose();
        foreach (var t in _torchIds) t.Dispose();
        _torchOffsets.Dispose();
    }
}

/// <summary>1M x 64 fp32 (256 MiB), 1 and 2 threads, uniform and Zipf(1.05) ids. Ratio below 1 means faster than TorchSharp.</summary>
[Config(typeof(KernelBenchConfig))]
public class PooledForwardBench : EmbeddingBagForwardBench
{
    [Params(1L << 20)] public long Rows;
    [Params(IdDistribution.Uniform, IdDistribution.Zipf)] public IdDistribution Dist;
    [Params(1, 2)] public int Threads;

    protected override long TableRows => Rows;
    protected override IdDistribution Ids => Dist;
    protected override int KernelThreadCount => Threads;
    protected override ulong IdSeed => 42;
    protected override SparseOptimizerSettings Optimizer => SparseOptimizerSettings.RowWiseAdagrad(0.01f);
}

/// <summary>16M x 64 fp32 (4 GiB), 2 threads.</summary>
[Config(typeof(KernelBenchConfig))]
public class LargeTableBench : EmbeddingBagForwardBench
{
    [Params(16L << 20)] public long Rows;
    [Params(IdDistribution.Uniform, IdDistribution.Zipf)] public IdDistribution Dist;

    protected override long TableRows => Rows;
    protected override IdDistribution Ids => Dist;
    protected override int KernelThreadCount => 2;
    protected override ulong IdSeed => 5;
    protected override SparseOptimizerSettings Optimizer => SparseOptimizerSettings.Sgd(0.01f);
}
