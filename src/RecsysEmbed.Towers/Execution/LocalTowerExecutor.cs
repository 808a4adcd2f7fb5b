using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Tables;
using TorchSharp;

namespace RecsysEmbed.Towers.Execution;

/// <summary>
/// Towers in this process. The subclasses decide only how the per-tower work is run (<see cref="RunAll"/>): one
/// after another on the caller's thread, or each tower on its own thread.
/// </summary>
public abstract class LocalTowerExecutor : ITowerExecutor
{
    private readonly Tower[] _towers;
    private readonly TowerInfo[] _infos;
    private int _lastBatch;

    protected LocalTowerExecutor(IReadOnlyList<Tower> towers)
    {
        _towers = towers.ToArray();
        _infos = new TowerInfo[_towers.Length];
        int column = 0;
        for (int t = 0; t < _towers.Length; t++)
        {
            _infos[t] = new TowerInfo(_towers[t].Name, _towers[t].Tables.FeatureNames, _towers[t].InputFloats, column, _towers[t].OutputFloats);
            column += _towers[t].OutputFloats;
        }
        OutputFloats = column;
    }

    public IReadOnlyList<TowerInfo> Towers => _infos;
    public IReadOnlyList<Tower> LocalTowers => _towers;
    public int OutputFloats { get; }
    public TowerTraffic Traffic { get; } = new();
    public IEnumerable<IEmbeddingTable> CheckpointTables => _towers.SelectMany(t => t.Tables.Tables);
    public IEnumerable<(string Name, torch.nn.Module Module, torch.optim.Optimizer Optimizer)> DenseParts =>
        _towers.Where(t => t.Optimizer is not null).Select(t => ($"towers/{t.Name}", t.Module, t.Optimizer!));

    /// <summary>Runs work(t) for every tower t and returns when all are done (rethrowing a tower's exception).</summary>
    protected abstract void RunAll(Action<int> work);

    // Spans cannot cross threads: the caller's buffer is pinned and passed as an address for the duration of the
    // call, which returns only after every tower is done with it.
    public unsafe void Forward(KeyedJaggedBatch batch, Span<float> outputs, bool training)
    {
        int b = batch.BatchSize;
        if (outputs.Length < (long)b * OutputFloats)
            throw new ArgumentException($"outputs has length {outputs.Length}, {b} x {OutputFloats} needed.", nameof(outputs));
        fixed (float* pointer = outputs)
        {
            nint address = (nint)pointer;
            int length = b * OutputFloats;
            RunAll(t =>
            {
                var tower = _towers[t];
                tower.Forward(batch, new Span<float>((void*)address, length), OutputFloats, _infos[t].OutputColumn, training);
                if (!training) return;
                Traffic.AddIds(tower.IdBytes(batch));
                Traffic.AddOutputs(4L * b * tower.OutputFloats);
            });
        }
        _lastBatch = training ? b : 0;
    }

    public unsafe void Backward(ReadOnlySpan<float> gradOutputs)
    {
        int b = _lastBatch;
        if (b == 0) throw new InvalidOperationException("Backward without a training Forward.");
        if (gradOutputs.Length < (long)b * OutputFloats)
            throw new ArgumentException($"gradOutputs has length {gradOutputs.Length}, {b} x {OutputFloats} needed.", nameof(gradOutputs));
        fixed (float* pointer = gradOutputs)
        {
            nint address = (nint)pointer;
            int length = b * OutputFloats;
            RunAll(t =>
            {
                var tower = _towers[t];
                Traffic.AddGradients(4L * b * tower.OutputFloats);
                tower.Backward(new ReadOnlySpan<float>((void*)address, length), OutputFloats, _infos[t].OutputColumn);
            });
        }
        Traffic.AddTrainingSamples(b);
        _lastBatch = 0;
    }

    public virtual void Dispose()
    {
        foreach (var t in _towers) t.Dispose();
        GC.SuppressFinalize(this);
    }
}
