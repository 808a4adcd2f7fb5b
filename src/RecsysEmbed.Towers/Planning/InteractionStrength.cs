using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Checkpoints;
using TorchSharp;

namespace RecsysEmbed.Towers.Planning;

/// <summary>
/// How strongly two sparse features interact in a trained DLRM: the typical size of the pair's contribution to the
/// first top-MLP layer,
/// <code>
///   strength(f, g) = || W1[:, col(f, g)] ||_2  x  E |&lt;e_f, e_g&gt;|
/// </code>
/// where W1 is the first top-MLP layer (hidden x (d + pairs)), col(f, g) the input column of the dot product of
/// f's and g's vectors, and the expectation runs over embedding rows drawn with a Zipf-like bias toward frequent
/// ids (vocabulary index floor(count^u) for u uniform; vocabularies number ids by first appearance, so low indices
/// are the frequent, well trained ones; hashed tables draw buckets uniformly).
/// <para>Why this measure: in DLRM a pair of features meets only through that one scalar dot product times that one
/// column of W1, so its product is exactly how much the model leans on the pair. A tower split loses the exact
/// dot product of features in different towers (only the compressed tower outputs meet), so this is the weight a
/// partition should keep inside towers. Similarity of per-feature embedding statistics would be cheaper but says
/// nothing about whether the model uses the pair.</para>
/// </summary>
public static class InteractionStrength
{
    /// <summary>Strengths (F x F, symmetric, zero diagonal) of a DLRM trainer's features, named in the collection's output order.</summary>
    public static (IReadOnlyList<string> Features, double[,] Strength) FromTrainer(CtrTrainer trainer, FeatureVocabularies vocabularies, int samples = 2048, int seed = 1)
    {
        var features = trainer.Tables.FeatureColumns.ToArray();
        int f = features.Length;
        int dim = features.Length == 0 ? 0 : features[0].Width;
        if (features.Any(x => x.Width != dim))
            throw new ArgumentException("interaction strength needs every feature at the same width (no mixed-dimension tables).", nameof(trainer));
        var w1 = FirstTopLayer(trainer.Model.Module);
        var vectors = SampleVectors(trainer.Tables, vocabularies, samples, seed);

        var strength = new double[f, f];
        int p = 0;
        // Pair order of DlrmModel: vectors 0 (bottom MLP output) .. F; for i in 1..F, j in 0..i-1.
        for (int i = 1; i <= f; i++)
        {
            for (int j = 0; j < i; j++, p++)
            {
                if (j == 0) continue;
                double column = ColumnNorm(w1, dim + p);
                double dot = MeanAbsDot(vectors[i - 1], vectors[j - 1], dim);
                strength[i - 1, j - 1] = strength[j - 1, i - 1] = column * dot;
            }
        }
        return (features.Select(x => x.Name).ToArray(), strength);
    }

    /// <summary>Loads a flat DLRM from its config and the newest good checkpoint in <paramref name="checkpointDir"/>, then measures.</summary>
    public static (IReadOnlyList<string> Features, double[,] Strength) FromCheckpoint(ModelConfig config, string checkpointDir, int samples = 2048, int seed = 1)
    {
        if (config.Model.Kind != DenseModelKind.Dlrm)
            throw new ConfigException("model.kind", "model.kind: towers partition reads DLRM's interaction layer; this config's model is not dlrm.");
        var plan = EmbeddingPlan.Create(config);
        using var trainer = TrainingRun.BuildTrainer(config, plan, threads: 1);
        var vocabularies = FeatureVocabularies.For(plan);
        var reader = CheckpointReader.OpenLatest(checkpointDir, fallBackToPrevious: true);
        TrainingCheckpoint.Restore(reader, trainer, vocabularies, new RunState());
        return FromTrainer(trainer, vocabularies, samples, seed);
    }

    /// <summary>The first top-MLP layer's weight, row-major hidden x inputs.</summary>
    private static (float[] Values, long Rows, long Cols) FirstTopLayer(torch.nn.Module model)
    {
        foreach (var (name, tensor) in model.state_dict())
        {
            if (!name.EndsWith("top_linear0.weight", StringComparison.Ordinal)) continue;
            using var t = tensor.contiguous();
            return (t.data<float>().ToArray(), t.shape[0], t.shape[1]);
        }
        throw new ArgumentException("the model has no top MLP (no 'top_linear0.weight'): not a DLRM.", nameof(model));
    }

    private static double ColumnNorm((float[] Values, long Rows, long Cols) w1, int column)
    {
        double sum = 0;
        for (long r = 0; r < w1.Rows; r++) { double v = w1.Values[r * w1.Cols + column]; sum += v * v; }
        return Math.Sqrt(sum);
    }

    private static double MeanAbsDot(float[] a, float[] b, int dim)
    {
        int n = a.Length / dim;
        double total = 0;
        for (int s = 0; s < n; s++)
        {
            double dot = 0;
            for (int k = 0; k < dim; k++) dot += a[s * dim + k] * b[s * dim + k];
            total += Math.Abs(dot);
        }
        return n > 0 ? total / n : 0;
    }

    /// <summary>samples x width vectors per feature (collection output order).</summary>
    private static float[][] SampleVectors(EmbeddingCollection tables, FeatureVocabularies vocabularies, int samples, int seed)
    {
        var random = new Random(seed);
        var counts = vocabularies.All.ToDictionary(v => v.FeatureName, v => v.Count);
        var result = new List<float[]>();
        foreach (var table in tables.Tables)
        {
            for (int f = 0; f < table.Features.Count; f++)
            {
                var slot = table.Features[f];
                var ids = new long[samples];
                bool indexed = counts.TryGetValue(slot.Name, out long count);
                for (int s = 0; s < samples; s++)
                    ids[s] = indexed ? Math.Max(0, (long)Math.Floor(Math.Pow(Math.Max(count, 1), random.NextDouble())) - 1) : random.NextInt64(long.MaxValue);
                var output = new float[samples * slot.OutputDim];
                table.Lookup(f, ids, output);
                result.Add(output);
            }
        }
        return result.ToArray();
    }
}
