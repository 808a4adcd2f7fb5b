using RecsysEmbed.Core.Batching;

namespace RecsysEmbed.Core.Tables;

public enum PoolingMode { Sum, Mean }

/// <summary>One feature served by a table: its pooling, the width of its vector, and its columns in the table's output.</summary>
public sealed record FeatureSlot(string Name, PoolingMode Pooling, int OutputDim, int Column);

/// <summary>Parameters and bytes of a table, weights and optimizer state counted apart.</summary>
public readonly record struct TableMemory(long WeightParameters, long WeightBytes, long OptimizerParameters, long OptimizerBytes)
{
    public long TotalBytes => WeightBytes + OptimizerBytes;
    public static TableMemory operator +(TableMemory a, TableMemory b) =>
        new(a.WeightParameters + b.WeightParameters, a.WeightBytes + b.WeightBytes, a.OptimizerParameters + b.OptimizerParameters, a.OptimizerBytes + b.OptimizerBytes);

    public static TableMemory Of(EmbeddingMatrix m) => new(m.WeightCount, m.WeightCount * sizeof(float), m.StateCount, m.StateCount * sizeof(float));
}

/// <summary>
/// An embedding table of any family, serving one or more features (a unified table serves many).
/// Shapes, for a batch of B bags:
/// <code>
///   Forward(batch, output)           output  B x OutputWidth; feature f's pooled vector at columns [Column_f, Column_f + OutputDim_f)
///   Forward(f, input, output)        output  B x OutputDim_f
///   Lookup(f, ids, output)           output  N x OutputDim_f  (one vector per id, no pooling)
///   Backward(...)                    gradOutput has the shape of the matching forward output
/// </code>
/// Backward is fused with the table's sparse optimizer: gradients of repeated ids are summed first and each
/// touched row is updated exactly once; untouched rows never change. Invalid input throws before any row changes.
/// </summary>
public interface IEmbeddingTable : IDisposable
{
    string Name { get; }
    /// <summary>Family name as written in configs: full, hash, qr, md, ue.</summary>
    string Family { get; }
    IReadOnlyList<FeatureSlot> Features { get; }
    int OutputWidth { get; }
    TableMemory Memory { get; }
    /// <summary>The trainable matrices (weights, projections), for checkpoints and export.</summary>
    IReadOnlyList<EmbeddingMatrix> Matrices { get; }
    /// <summary>Threads used by kernels (default: all cores).</summary>
    int Threads { get; set; }

    int FeatureIndex(string name);

    void Forward(KeyedJaggedBatch batch, Span<float> output);
    /// <summary>As Forward(batch, output), writing row b at output[b * outputStride + column ..] (to fill a slice of a wider buffer).</summary>
    void Forward(KeyedJaggedBatch batch, Span<float> output, int outputStride, int column);
    void Forward(int feature, in JaggedFeature input, Span<float> output);
    void Lookup(int feature, ReadOnlySpan<long> ids, Span<float> output);

    void Backward(KeyedJaggedBatch batch, ReadOnlySpan<float> gradOutput);
    void Backward(KeyedJaggedBatch batch, ReadOnlySpan<float> gradOutput, int gradStride, int column);
    void Backward(int feature, in JaggedFeature input, ReadOnlySpan<float> gradOutput);
    void BackwardLookup(int feature, ReadOnlySpan<long> ids, ReadOnlySpan<float> gradOutput);
}
