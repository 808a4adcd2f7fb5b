using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Config;

namespace RecsysEmbed.Tests.Towers;

/// <summary>A small DLRM config (6 full tables of 40 rows, dim 4, sparse SGD) and random batches for it.</summary>
internal static class TowerTestModels
{
    public const int Rows = 40, Dim = 4, DenseCount = 3;
    public const float SparseLearningRate = 0.5f;
    public static readonly string[] Features = ["C1", "C2", "C3", "C4", "C5", "C6"];

    public static ModelConfig Config(string pooling = "sum") => ModelConfig.Parse($$"""
        name: towers-test
        dense_features: [I1, I2, I3]
        embedding_dim: {{Dim}}
        sparse_features:
        {{string.Join("\n", Features.Select(f => $"  - {{name: {f}, cardinality: {Rows}, pooling: {pooling}}}"))}}
        default_table: {family: full}
        optimizer: {kind: sgd, learning_rate: {{SparseLearningRate}}}
        dense_optimizer: {kind: adam, learning_rate: 0.01}
        model: {kind: dlrm, bottom_mlp: [8], top_mlp: [8]}
        training: {batch_size: 16, seed: 3}
        """);

    /// <summary>A batch of <paramref name="batch"/> samples; bags of 0..maxIds ids (empty and repeated ids included).</summary>
    public static (KeyedJaggedBatch Sparse, float[] Dense, float[] Labels) Batch(int seed, int batch = 16, int maxIds = 2, int minIds = 0)
    {
        var rng = new Random(seed);
        var builder = new KeyedJaggedBatchBuilder(Features);
        var dense = new float[batch * DenseCount];
        var labels = new float[batch];
        for (int b = 0; b < batch; b++)
        {
            for (int f = 0; f < Features.Length; f++)
            {
                int n = rng.Next(minIds, maxIds + 1);
                for (int i = 0; i < n; i++) builder.AddId(f, rng.Next(0, Rows));
            }
            builder.EndSample();
            for (int d = 0; d < DenseCount; d++) dense[b * DenseCount + d] = (float)rng.NextDouble();
            labels[b] = rng.Next(2);
        }
        return (builder.Build(), dense, labels);
    }
}
