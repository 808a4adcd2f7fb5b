using System.CommandLine;
using System.Diagnostics;
using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Synthetic;
using RecsysEmbed.Training;
using RecsysEmbed.Training.Metrics;
using RecsysEmbed.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// <c>recsys-embed bench dlrm</c>: DLRM training throughput of RecsysEmbed (engine tables with fused row-wise Adagrad,
/// dense part in TorchSharp) against the same model written all in TorchSharp (nn.EmbeddingBag with sparse gradients
/// + SGD), in one run, on the same synthetic batches; both are then scored on the same held-out rows.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var rows = new Option<long>("--rows") { Description = "Training rows (synthetic Criteo schema).", DefaultValueFactory = _ => 400_000 };
        var evalRows = new Option<long>("--eval-rows") { Description = "Held-out rows.", DefaultValueFactory = _ => 100_000 };
        var cardinality = new Option<long>("--cardinality") { Description = "Rows of each of the 26 tables.", DefaultValueFactory = _ => 1_000_000 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 2048 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var precision = new Option<string>("--precision")
        {
            Description = "Dense MLP arithmetic of RecsysEmbed's runs: fp32, bf16, or both (the all-TorchSharp baseline is always fp32).",
            DefaultValueFactory = _ => "both",
        };
        precision.AcceptOnlyFromAmong("fp32", "bf16", "both");
        var dlrm = new Command("dlrm", "DLRM training samples/s and held-out AUC: RecsysEmbed vs all-TorchSharp, same data, same run.")
        {
            rows, evalRows, cardinality, batch, threads, precision,
        };
        dlrm.SetAction(p => RunDlrm(p.GetValue(rows), p.GetValue(evalRows), p.GetValue(cardinality), p.GetValue(batch), p.GetValue(threads),
                                    p.GetValue(precision)!, p.InvocationConfiguration.Output));
        return new Command("bench", "End-to-end benchmarks that compare against a baseline in the same run.")
        {
            dlrm, BenchCompressionCommand.Create(), StreamBenchCommand.Create(),
        };
    }

    private static int RunDlrm(long rows, long evalRows, long cardinality, int batchSize, int threads, string precision, TextWriter output)
    {
        TorchRuntime.Configure(threads, 1);
        string dir = Path.Combine(Path.GetTempPath(), $"recsys-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "synthetic.tsv");
            var data = new SyntheticCtrGenerator(new SyntheticOptions { Rows = rows + evalRows, Seed = 1, MaxCardinality = cardinality, Threads = threads }).GenerateFile(path);
            var train = LoadBatches(path, 0, rows, batchSize, cardinality);
            var eval = LoadBatches(path, rows, evalRows, batchSize, cardinality);
            output.WriteLine($"data: {rows:N0} train + {evalRows:N0} held-out synthetic Criteo rows, 26 features x {cardinality:N0} rows x dim 16, batch {batchSize}, {threads} threads; best AUC {data.BestAuc:F4}");

            var dense = new DenseModelConfig(); // 13-512-256-16 bottom, 367-512-256-1 top
            var denseOptimizer = new DenseOptimizerConfig();
            string[] keys = Enumerable.Range(1, 26).Select(i => $"C{i}").ToArray();

            var predictions = new float[batchSize];
            // RecsysEmbed: engine tables, fused row-wise Adagrad; dense MLPs in each requested precision.
            var precisions = precision == "both" ? new[] { DensePrecision.Fp32, DensePrecision.Bf16 }
                : [precision == "bf16" ? DensePrecision.Bf16 : DensePrecision.Fp32];
            var oursRuns = new List<(DensePrecision Precision, double Rate, double Auc, double Calibration)>();
            foreach (var p in precisions)
            {
                torch.manual_seed(1);
                var tables = new EmbeddingCollection(keys.Select(k => (IEmbeddingTable)new FullTable(k, [new TableFeature(k)], cardinality, 16,
                    SparseOptimizerSettings.RowWiseAdagrad(0.05f), new TableInit(Seed: 7))).ToList()) { Threads = threads };
                using var ours = new CtrTrainer(tables, new DlrmModel(13, tables.FeatureColumns.ToList(), 16, dense with { Precision = p }), 13, denseOptimizer);
                var watch = Stopwatch.StartNew();
                foreach (var b in train) ours.TrainStep(b.Sparse, b.Dense, b.Labels, predictions);
                double seconds = watch.Elapsed.TotalSeconds;
                var (auc, calibration) = Score(eval, b => { ours.Predict(b.Sparse, b.Dense, predictions); return predictions; });
                oursRuns.Add((p, rows / seconds, auc, calibration));
            }

            // All TorchSharp: EmbeddingBag(sparse) + SGD for the tables, same dense model and optimizer. The issue's
            // baseline is fp32; with --precision both it also runs with bf16 MLPs, to separate what bf16 buys from
            // what the engine's tables buy.
            var torchTrain = train.Select(TorchInputs.From).ToList();
            var baselineRuns = new List<(DensePrecision Precision, double Rate, double Auc, double Calibration)>();
            foreach (var p in precisions)
            {
                torch.manual_seed(1);
                using var baseline = new TorchDlrmBaseline(13, Enumerable.Repeat(cardinality, 26).ToArray(), 16, dense with { Precision = p }, 0.05, denseOptimizer);
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < train.Count; i++)
                    baseline.TrainStep(torchTrain[i].Ids, torchTrain[i].Offsets, torchTrain[i].Dense, torchTrain[i].Labels, predictions);
                double torchSeconds = clock.Elapsed.TotalSeconds;
                var (torchAuc, torchCalibration) = Score(eval, b =>
                {
                    var t = TorchInputs.From(b);
                    baseline.Predict(t.Ids, t.Offsets, t.Dense, predictions);
                    t.Dispose();
                    return predictions;
                });
                baselineRuns.Add((p, rows / torchSeconds, torchAuc, torchCalibration));
            }
            foreach (var t in torchTrain) t.Dispose();

            static string Name(DensePrecision p) => p.ToString().ToLowerInvariant();
            foreach (var (p, rate, auc, calibration) in oursRuns)
                output.WriteLine($"RecsysEmbed (fused row-wise Adagrad, dense {Name(p)})   {rate,10:N0} samples/s   held-out AUC {auc:F4}   calibration {calibration:F3}");
            foreach (var (p, rate, auc, calibration) in baselineRuns)
                output.WriteLine($"TorchSharp (EmbeddingBag sparse + SGD, dense {Name(p)})  {rate,10:N0} samples/s   held-out AUC {auc:F4}   calibration {calibration:F3}");
            var reference = baselineRuns.First(r => r.Precision == DensePrecision.Fp32 || baselineRuns.Count == 1);
            foreach (var (p, rate, auc, _) in oursRuns)
                output.WriteLine($"ratio (RecsysEmbed dense {Name(p)} vs TorchSharp dense {Name(reference.Precision)}): {rate / reference.Rate:F2}x samples/s, AUC difference {auc - reference.Auc:+0.0000;-0.0000}");
            foreach (var (p, rate, auc, _) in oursRuns)
                if (p != reference.Precision && baselineRuns.Any(r => r.Precision == p) && baselineRuns.First(r => r.Precision == p) is var same)
                    output.WriteLine($"ratio (both dense {Name(p)}): {rate / same.Rate:F2}x samples/s, AUC difference {auc - same.Auc:+0.0000;-0.0000}");
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed record HeldBatch(KeyedJaggedBatch Sparse, float[] Dense, float[] Labels);

    // Reads rows [skip, skip + take) into owned batches (ids reduced mod the table size, as the all-torch model needs).
    private static List<HeldBatch> LoadBatches(string path, long skip, long take, int batchSize, long cardinality)
    {
        using var reader = new CriteoReader(path);
        var builder = reader.CreateBuilder();
        var result = new List<HeldBatch>();
        long seen = 0;
        CtrBatch? batch = null;
        while (seen < skip + take && reader.TryReadBatch(builder, (int)Math.Min(batchSize, skip + take - seen), out batch, null))
        {
            long start = seen;
            seen += batch.BatchSize;
            if (start < skip) continue;
            var sparse = batch.Sparse;
            var values = sparse.Values.ToArray();
            for (int i = 0; i < values.Length; i++) values[i] %= cardinality;
            result.Add(new HeldBatch(new KeyedJaggedBatch(sparse.Keys, sparse.BatchSize, values, sparse.Offsets.ToArray()), batch.Dense.ToArray(), batch.Labels.ToArray()));
        }
        return result;
    }

    /// <summary>Held-out AUC and calibration (mean prediction / observed CTR).</summary>
    private static (double Auc, double Calibration) Score(List<HeldBatch> batches, Func<HeldBatch, float[]> predict)
    {
        var p = new List<float>();
        var y = new List<float>();
        foreach (var b in batches)
        {
            p.AddRange(predict(b).AsSpan(0, b.Labels.Length));
            y.AddRange(b.Labels);
        }
        float[] predictions = p.ToArray(), labels = y.ToArray();
        return (Auc.Exact(predictions, labels), CtrLoss.Calibration(predictions, labels));
    }

    private sealed record TorchInputs(Tensor[] Ids, Tensor[] Offsets, Tensor Dense, Tensor Labels) : IDisposable
    {
        public static TorchInputs From(HeldBatch b)
        {
            var sparse = b.Sparse;
            int n = sparse.BatchSize;
            var ids = new Tensor[sparse.Keys.Count];
            var offsets = new Tensor[sparse.Keys.Count];
            for (int f = 0; f < ids.Length; f++)
            {
                var feature = sparse.Feature(f);
                ids[f] = torch.tensor(feature.Ids.ToArray());
                var o = new long[n];
                for (int s = 0; s < n; s++) o[s] = feature.BagStart(s);
                offsets[f] = torch.tensor(o);
            }
            return new TorchInputs(ids, offsets, torch.tensor(b.Dense, [n, 13]), torch.tensor(b.Labels));
        }

        public void Dispose()
        {
            foreach (var t in Ids) t.Dispose();
            foreach (var t in Offsets) t.Dispose();
            Dense.Dispose();
            Labels.Dispose();
        }
    }
}
