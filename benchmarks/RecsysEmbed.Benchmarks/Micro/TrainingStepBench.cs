using BenchmarkDotNet.Attributes;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Benchmarks.Micro;

/// <summary>
/// One training step of a 1M x 64 table, B = 4096 x L = 20: TorchSharp nn.EmbeddingBag(sparse: true) forward +
/// backward + SGD step (TorchSharp has no sparse Adagrad) against RecsysEmbed's fused backward with row-wise
/// Adagrad, alone and with its forward. Mrows/s counts the B * L ids of the step.
/// </summary>
[Config(typeof(KernelBenchConfig))]
public class TrainingStepBench
{
    [Params(1L << 20)] public long Rows;
    [Params(IdDistribution.Uniform, IdDistribution.Zipf)] public IdDistribution Dist;
    [Params(1, 2)] public int Threads;
    public const int Dim = 64;

    private FullTable _table = null!;
    private long[][] _ids = null!;
    private int _next;
    private int[] _offsets = null!;
    private float[] _output = null!, _grad = null!;
    private TorchSharp.Modules.EmbeddingBag _torchBag = null!;
    private TorchSharp.Modules.SGD _torchSgd = null!;
    private Tensor[] _torchIds = null!;
    private Tensor _torchOffsets = null!, _torchGrad = null!;

    [GlobalSetup]
    public void Setup()
    {
        _table = new FullTable("bench", [new TableFeature("f")], Rows, Dim, SparseOptimizerSettings.RowWiseAdagrad(0.01f)) { Threads = Threads };
        _ids = Enumerable.Range(0, BenchData.IdSets).Select(k => BenchData.Ids(Rows, Dist, BenchData.Bags * BenchData.Pooling, (ulong)(7 + 1000 * k))).ToArray();
        _offsets = BenchData.FixedOffsets(BenchData.Bags, BenchData.Pooling);
        _output = new float[BenchData.Bags * Dim];
        _grad = new float[BenchData.Bags * Dim];
        var rng = new Random(3);
        for (int i = 0; i < _grad.Length; i++) _grad[i] = (float)(rng.NextDouble() - 0.5) * 1e-3f;
        torch.set_num_threads(Threads);
        _torchBag = nn.EmbeddingBag(Rows, Dim, mode: EmbeddingBagMode.Sum, sparse: true);
        _torchSgd = torch.optim.SGD(_torchBag.parameters(), 0.01);
        _torchIds = _ids.Select(ids => torch.tensor(ids, dtype: ScalarType.Int64)).ToArray();
        _torchOffsets = torch.tensor(_offsets.AsSpan(0, BenchData.Bags).ToArray().Select(o => (long)o).ToArray(), dtype: ScalarType.Int64);
        _torchGrad = torch.tensor(_grad, [BenchData.Bags, Dim]);
    }

    [Benchmark(Baseline = true)]
    public void TorchSharpSparseSgdStep()
    {
        using var scope = torch.NewDisposeScope();
        _torchSgd.zero_grad();
        var output = _torchBag.call(_torchIds[_next++ % BenchData.IdSets], _torchOffsets);
        output.backward([_torchGrad]);
        _torchSgd.step();
    }

    [Benchmark]
    public void RecsysFusedBackwardRowWiseAdagrad() => _table.Backward(0, new JaggedFeature(_ids[_next++ % BenchData.IdSets], _offsets), _grad);

    [Benchmark]
    public void RecsysForwardAndFusedBackward()
    {
        var input = new JaggedFeature(_ids[_next++ % BenchData.IdSets], _offsets);
        _table.Forward(0, input, _output);
        _table.Backward(0, input, _grad);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _table.Dispose();
        _torchBag.Dispose();
        foreach (var t in _torchIds) t.Dispose();
        _torchOffsets.Dispose();
        _torchGrad.Dispose();
    }
}
