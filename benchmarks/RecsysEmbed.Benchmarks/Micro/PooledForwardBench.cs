using BenchmarkDotNet.Attributes;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Benchmarks.Micro;

/// <summary>
/// Pooled sum forward, 1M x 64 fp32, B = 4096 bags x L = 20 ids: RecsysEmbed's FullTable against TorchSharp's
/// nn.EmbeddingBag(mode sum) on the same ids, same thread count. Ratio > 1 means faster than TorchSharp.
/// </summary>
[Config(typeof(KernelBenchConfig))]
public class PooledForwardBench
{
    [Params(1L << 20)] public long Rows;
    [Params(IdDistribution.Uniform, IdDistribution.Zipf)] public IdDistribution Dist;
    [Params(1, 2)] public int Threads;
    public const int Dim = 64;

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
        _table = new FullTable("bench", [new TableFeature("f")], Rows, Dim, SparseOptimizerSettings.RowWiseAdagrad(0.01f)) { Threads = Threads };
        _ids = Enumerable.Range(0, BenchData.IdSets).Select(k => BenchData.Ids(Rows, Dist, BenchData.Bags * BenchData.Pooling, (ulong)(42 + 1000 * k))).ToArray();
        _offsets = BenchData.FixedOffsets(BenchData.Bags, BenchData.Pooling);
        _output = new float[BenchData.Bags * Dim];
        torch.set_num_threads(Threads);
        _torchBag = nn.EmbeddingBag(Rows, Dim, mode: EmbeddingBagMode.Sum);
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
