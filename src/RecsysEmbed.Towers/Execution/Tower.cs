using System.Runtime.InteropServices;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Towers.Execution;

/// <summary>
/// One tower on this machine: its tables (with their fused sparse optimizers), its tower module and that module's
/// own dense optimizer. Between a training Forward and its Backward it holds the step's tensors; both must run on
/// the same thread and never overlap.
/// <code>
///   Forward   tables.Forward(batch) ─► emb (B x InputFloats, torch storage) ─► module ─► output (B x OutputFloats)
///   Backward  output.backward(grad) ─► emb.grad ─► tables.Backward (sparse optimizer) ; module optimizer step
/// </code>
/// </summary>
public sealed class Tower : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> _module;
    private readonly optim.Optimizer? _optimizer;
    private readonly bool _identity;
    private Tensor? _emb, _output;
    private KeyedJaggedBatch? _batch;

    public Tower(string name, EmbeddingCollection tables, nn.Module<Tensor, Tensor> module, int outputFloats, bool identity, DenseOptimizerConfig optimizer)
    {
        Name = name;
        Tables = tables;
        _module = module;
        _identity = identity;
        OutputFloats = outputFloats;
        var parameters = module.parameters().ToArray();
        if (parameters.Length > 0) _optimizer = DenseOptimizers.Create(parameters, optimizer);
    }

    public string Name { get; }
    public EmbeddingCollection Tables { get; }
    public nn.Module Module => _module;
    public optim.Optimizer? Optimizer => _optimizer;
    public int InputFloats => Tables.Width;
    public int OutputFloats { get; }

    /// <summary>Bytes of ids (8 B each) and bag lengths (4 B per bag) the tower needs from a batch.</summary>
    public long IdBytes(KeyedJaggedBatch batch)
    {
        long bytes = 0;
        foreach (var name in Tables.FeatureNames)
        {
            int f = batch.IndexOf(name);
            if (f < 0) throw new ArgumentException($"the batch lacks feature '{name}' of {Name} (keys: {string.Join(", ", batch.Keys)}).", nameof(batch));
            var offsets = batch.Offsets;
            bytes += 8L * (offsets[(f + 1) * batch.BatchSize] - offsets[f * batch.BatchSize]) + 4L * batch.BatchSize;
        }
        return bytes;
    }

    /// <summary>Runs the tower and writes its output row b at outputs[b * stride + column ..].</summary>
    public void Forward(KeyedJaggedBatch batch, Span<float> outputs, int stride, int column, bool training)
    {
        ReleaseStep();
        int b = batch.BatchSize;
        using var scope = torch.NewDisposeScope();
        using var grad = training ? null : torch.no_grad();
        var emb = torch.empty([b, InputFloats], dtype: ScalarType.Float32);
        Tables.Forward(batch, MemoryMarshal.Cast<byte, float>(emb.bytes));
        if (training && !_identity) emb.requires_grad_(true);
        var output = _module.call(emb);
        var values = MemoryMarshal.Cast<byte, float>(output.contiguous().bytes);
        for (int row = 0; row < b; row++)
            values.Slice(row * OutputFloats, OutputFloats).CopyTo(outputs.Slice(row * stride + column, OutputFloats));
        if (training)
        {
            _emb = emb.DetachFromDisposeScope();
            _output = _identity ? null : output.DetachFromDisposeScope();
            _batch = batch;
        }
    }

    /// <summary>Backpropagates the gradient of the last training output (row b at gradOutputs[b * stride + column ..]).</summary>
    public void Backward(ReadOnlySpan<float> gradOutputs, int stride, int column)
    {
        if (_emb is null || _batch is null) throw new InvalidOperationException($"{Name}: Backward without a training Forward.");
        int b = _batch.BatchSize;
        using var scope = torch.NewDisposeScope();
        var grad = torch.empty([b, OutputFloats], dtype: ScalarType.Float32);
        var gradValues = MemoryMarshal.Cast<byte, float>(grad.bytes);
        for (int row = 0; row < b; row++)
            gradOutputs.Slice(row * stride + column, OutputFloats).CopyTo(gradValues.Slice(row * OutputFloats, OutputFloats));
        if (_identity)
        {
            Tables.Backward(_batch, gradValues);
        }
        else
        {
            _optimizer?.zero_grad();
            _output!.backward([grad]);
            Tables.Backward(_batch, MemoryMarshal.Cast<byte, float>(_emb.grad!.bytes));
            _optimizer?.step();
        }
        ReleaseStep();
    }

    private void ReleaseStep()
    {
        _output?.Dispose();
        _emb?.Dispose();
        _output = null;
        _emb = null;
        _batch = null;
    }

    public void Dispose()
    {
        ReleaseStep();
        _optimizer?.Dispose();
        _module.Dispose();
        Tables.Dispose();
    }
}
