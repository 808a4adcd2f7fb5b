using System.Diagnostics;
using Confluent.Kafka;
using HdrHistogram;
using RecsysEmbed.Client;
using RecsysEmbed.Core.Tables.Addressing;
using RecsysEmbed.Core.Updates;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Protos;

namespace RecsysEmbed.Serving.Loadgen;

/// <summary>Publish-to-visible latency of row updates, in microseconds.</summary>
public sealed record FreshnessReport(int Probes, double P50Us, double P99Us, double MaxUs)
{
    public override string ToString() => $"freshness: {Probes} updates, publish -> visible in lookups p50 {P50Us / 1000:F1} ms, p99 {P99Us / 1000:F1} ms, max {MaxUs / 1000:F1} ms";
}

/// <summary>
/// End-to-end freshness: for each probe, a fresh raw value of a feature is addressed locally (same families as the
/// server), its physical rows are published to the update topic with a marker value, and the service is polled
/// until its lookup returns the marker's combined vector. Time runs from just before the produce call.
/// </summary>
public static class FreshnessProbe
{
    public static async Task<FreshnessReport> MeasureAsync(RecsysEmbedClient client, ServingModel model, ProducerConfig producer, string topic,
                                                           int probes, string featureName, CancellationToken cancel = default)
    {
        var binding = model.Feature(featureName) ?? throw new ArgumentException($"--freshness-feature: the model has no feature '{featureName}'.");
        var info = await client.ModelInfoAsync(cancel: cancel).ConfigureAwait(false);
        long version = Math.Max(info.DenseModelVersion, 0) + 1; // newer than the loaded rows, within any staleness bound
        var addressing = binding.Addressing;
        using var kafka = new ProducerBuilder<byte[], byte[]>(new ProducerConfig(new Dictionary<string, string>(producer)) { LingerMs = 0 }).Build();
        var histogram = new LongHistogram(600_000_000, 3);
        var rows = new PhysicalRow[addressing.MaxRowsPerId(binding.LocalFeature)];
        for (int p = 0; p < probes; p++)
        {
            string value = $"freshness-{Guid.NewGuid():N}";
            int n = addressing.Resolve(binding.LocalFeature, binding.IdOf(value), rows);
            var packed = new List<float>();
            var started = Stopwatch.GetTimestamp();
            for (int r = 0; r < n; r++)
            {
                var shape = addressing.Matrices[rows[r].Matrix];
                var marker = Enumerable.Range(0, shape.Dim).Select(d => 1000f + p + d / 64f).ToArray();
                packed.AddRange(marker);
                kafka.Produce(topic, new Message<byte[], byte[]>
                {
                    Key = EmbeddingUpdateCodec.EncodeRowKey(shape.Name, rows[r].Row),
                    Value = EmbeddingUpdateCodec.EncodeRowValue(version, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), marker),
                });
            }
            kafka.Flush(cancel);
            var expected = new float[binding.OutputDim];
            addressing.Combine(binding.LocalFeature, rows.AsSpan(0, n), packed.ToArray(), expected);
            var request = RecsysEmbedClient.Request(LookupMode.PerValue, (featureName, [value]));
            var deadline = Stopwatch.GetTimestamp() + 60 * Stopwatch.Frequency;
            while (true)
            {
                var response = await client.LookupAsync(request, cancel: cancel).ConfigureAwait(false);
                if (response.Features[0].Values.SequenceEqual(expected)) break;
                if (Stopwatch.GetTimestamp() > deadline) throw new TimeoutException($"update of '{featureName}'='{value}' not visible after 60 s.");
            }
            histogram.RecordValue(Math.Max(1, (Stopwatch.GetTimestamp() - started) * 1_000_000 / Stopwatch.Frequency));
        }
        return new FreshnessReport(probes, histogram.GetValueAtPercentile(50), histogram.GetValueAtPercentile(99), histogram.GetMaxValue());
    }
}
