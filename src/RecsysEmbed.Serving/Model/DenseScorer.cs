using System.Runtime.InteropServices;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Training.Checkpoints;
using RecsysEmbed.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Serving.Model;

/// <summary>
/// The dense part of the CTR model (TorchSharp), versioned: a score call takes one snapshot (model + version) and
/// uses it for every example, so one request never mixes two dense versions. A new version (from a checkpoint or a
/// dense update record) replaces the snapshot atomically.
/// <code>
///   embeddings B x EmbeddingWidth (pooled, EmbeddingCollection column order) + dense B x D -> model -> sigmoid -> B
/// </code>
/// </summary>
public sealed class DenseScorer : IDisposable
{
    private readonly ServingModel _model;
    private readonly object _gate = new();
    private ICtrModel _current;

    private DenseScorer(ServingModel model, ICtrModel current, long version)
    {
        _model = model;
        _current = current;
        Version = version;
    }

    /// <summary>Version of the dense model that the next score call uses.</summary>
    public long Version { get; private set; }

    /// <summary>Loads the dense model ("dense/model") of a training checkpoint.</summary>
    public static DenseScorer FromCheckpoint(ServingModel model, CheckpointReader checkpoint, long version)
    {
        var m = Create(model);
        try
        {
            checkpoint.LoadStateDict("dense/model", m.Module);
            m.Module.eval();
            return new DenseScorer(model, m, version);
        }
        catch
        {
            m.Dispose();
            throw;
        }
    }

    /// <summary>The same dense model TrainingRun.BuildTrainer builds, fed by the served features' columns.</summary>
    private static ICtrModel Create(ServingModel model)
    {
        var config = model.Config;
        var columns = model.Features.Select(f => (f.Name, f.Column, f.OutputDim)).ToList();
        return config.Model.Kind switch
        {
            DenseModelKind.Dlrm => new DlrmModel(model.DenseCount, columns, config.EmbeddingDim, config.Model),
            DenseModelKind.DcnV2 => new DcnV2Model(model.DenseCount, model.EmbeddingWidth, config.Model),
            _ => throw new ArgumentOutOfRangeException(nameof(model), config.Model.Kind, "unknown model kind"),
        };
    }

    /// <summary>
    /// Replaces the dense model with a published one: <paramref name="stateDict"/> is TorchSharp's module save format
    /// (Module.save). Older or equal versions are ignored (returns false).
    /// </summary>
    public bool Apply(long version, ReadOnlySpan<byte> stateDict)
    {
        if (version <= Version) return false;
        var m = Create(_model);
        try
        {
            using var stream = new MemoryStream(stateDict.ToArray(), writable: false);
            m.Module.load(stream);
            m.Module.eval();
        }
        catch
        {
            m.Dispose();
            throw;
        }
        lock (_gate)
        {
            var old = _current;
            _current = m;
            Version = version;
            old.Dispose();
        }
        return true;
    }

    /// <summary>The current dense model in the format <see cref="Apply"/> takes (TorchSharp Module.save), with its version.</summary>
    public (long Version, byte[] StateDict) Save()
    {
        lock (_gate)
        {
            using var stream = new MemoryStream();
            _current.Module.save(stream);
            return (Version, stream.ToArray());
        }
    }

    /// <summary>Scores <paramref name="batch"/> examples; returns the dense version used.</summary>
    public long Score(ReadOnlySpan<float> embeddings, ReadOnlySpan<float> dense, int batch, Span<float> probabilities)
    {
        int width = _model.EmbeddingWidth, d = _model.DenseCount;
        if (embeddings.Length < batch * width) throw new ArgumentException($"embeddings has length {embeddings.Length}, {batch} x {width} needed.", nameof(embeddings));
        if (dense.Length < batch * d) throw new ArgumentException($"dense has length {dense.Length}, {batch} x {d} needed.", nameof(dense));
        // Torch modules are not documented thread-safe; one forward at a time, and a version swap waits for it.
        lock (_gate)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var emb = torch.empty([batch, width], dtype: ScalarType.Float32);
            embeddings[..(batch * width)].CopyTo(MemoryMarshal.Cast<byte, float>(emb.bytes));
            var denseTensor = torch.empty([batch, Math.Max(d, 1)], dtype: ScalarType.Float32);
            var span = MemoryMarshal.Cast<byte, float>(denseTensor.bytes);
            if (d == 0) span.Clear();
            else dense[..(batch * d)].CopyTo(span);
            var logits = _current.Forward(denseTensor, emb);
            MemoryMarshal.Cast<byte, float>(torch.sigmoid(logits).bytes)[..batch].CopyTo(probabilities);
            return Version;
        }
    }

    public void Dispose()
    {
        lock (_gate) _current.Dispose();
    }
}
