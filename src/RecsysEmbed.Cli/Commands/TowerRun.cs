using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Training;
using RecsysEmbed.Towers;
using RecsysEmbed.Towers.Execution;
using RecsysEmbed.Towers.Planning;
using RecsysEmbed.Towers.Sharding;

namespace RecsysEmbed.Cli.Commands;

/// <summary>One tower-model training run through <see cref="TrainingRun"/>, with the executor's byte count and the plan's estimate.</summary>
internal sealed record TowerRun(TrainSummary Summary, TowerTraffic Traffic, double PlannedBytesPerSample, double PlannedIdBytesPerSample)
{
    public static TowerRun Train(ModelConfig config, TrainOptions options, TowerPlan towers, TowerModuleConfig module, bool parallel, TextWriter? progress = null, bool quiet = true)
    {
        TowerTrainer? built = null;
        var summary = quiet || progress is null
            ? TrainingRun.Run(config, options, buildTrainer: Build)
            : TrainingRun.Run(config, options, new SynchronousProgress<TrainProgress>(p => { if (p.Batches % 100 == 0) progress.WriteLine($"  {p.Samples:N0} samples  {p.SamplesPerSecond:N0}/s  log loss {p.LogLoss:F4}"); }), buildTrainer: Build);
        var plan = EmbeddingPlan.Create(config);
        var costs = CostEstimator.Estimate(plan);
        var towerOf = towers.TowerOfTable(plan);
        int t = towers.Towers.Count;
        var sharding = new TowerSharding(t, towerOf, inputs => module.OutputFloats(inputs, config.EmbeddingDim)).Plan(costs, new ClusterTopology(t, 1), 1);
        return new TowerRun(summary, built!.Executor.Traffic, sharding.BoundaryBytesPerSample, costs.Sum(c => c.IdBytesPerSample));

        ICtrTrainer Build(ModelConfig c, EmbeddingPlan p, int threads) => built = TowerTrainer.Build(c, p, towers, module, threads, parallel);
    }

    public double CountedBytesPerSample => Traffic.BytesPerTrainingSample;
    public double Difference => CountedBytesPerSample / PlannedBytesPerSample - 1;

    public void WriteTraffic(TextWriter o) =>
        o.WriteLine($"  bytes crossing tower boundaries per training sample: counted {CountedBytesPerSample:N1} (ids {(double)Traffic.IdBytes / Traffic.TrainingSamples:N1}, " +
                    $"outputs {(double)Traffic.OutputBytes / Traffic.TrainingSamples:N1}, gradients {(double)Traffic.GradientBytes / Traffic.TrainingSamples:N1}); " +
                    $"plan {PlannedBytesPerSample:N1} (1 id per bag); difference {Difference:+0.0%;-0.0%}");

    public object TrafficJson() => new
    {
        counted_bytes_per_sample = CountedBytesPerSample,
        counted_id_bytes = Traffic.IdBytes, counted_output_bytes = Traffic.OutputBytes, counted_gradient_bytes = Traffic.GradientBytes,
        training_samples = Traffic.TrainingSamples,
        planned_bytes_per_sample = PlannedBytesPerSample,
        planned_id_bytes_per_sample = PlannedIdBytesPerSample,
        difference = Difference,
    };
}
