using System.Collections.Concurrent;

namespace RecsysEmbed.Serving.Metrics;

/// <summary>What the service exports on /metrics.</summary>
public sealed class ServingMetrics
{
    private readonly ConcurrentDictionary<string, Histogram> _latency = new();
    private readonly ConcurrentDictionary<(string Method, string Code), Counter> _requests = new();

    public Counter RowsServed { get; } = new("recsys_rows_served_total", "Embedding rows read from the store for lookups and scores.");
    public Counter UpdatesApplied { get; } = new("recsys_updates_applied_total", "Row, dense and vocabulary updates applied from the update topic.");
    public Counter UpdatesIgnored { get; } = new("recsys_updates_ignored_total", "Row updates older than the stored row (a version never goes backwards).");
    public Counter UpdatesMalformed { get; } = new("recsys_updates_malformed_total", "Update records that failed to decode; counted and set aside.");
    public Counter UpdatesHeld { get; } = new("recsys_updates_held_total", "Row updates held back because they were newer than the dense model by more than the staleness bound.");
    public Counter VocabularyEntriesApplied { get; } = new("recsys_vocabulary_entries_applied_total", "Vocabulary entries (value id -> dense index) learned from the update topic.");
    public Counter VocabularyConflicts { get; } = new("recsys_vocabulary_conflicts_total", "Vocabulary entries refused because they contradict a mapping already held (id or index taken).");
    public Counter Rejected { get; } = new("recsys_requests_rejected_total", "Requests refused by the concurrency limit (RESOURCE_EXHAUSTED / 429).");
    public Counter Unauthenticated { get; } = new("recsys_requests_unauthenticated_total", "Requests without a valid API key.");
    /// <summary>LookupStream calls accepted (their messages count in recsys_requests_total{method="LookupStream"} like lookups).</summary>
    public Counter Streams { get; } = new("recsys_lookup_streams_total", "LookupStream calls opened (past the API-key check).");
    public Gauge UpdateLagSeconds { get; } = new("recsys_update_lag_seconds", "Now minus the source time of the newest applied update.");
    public Gauge DenseModelVersion { get; } = new("recsys_dense_model_version", "Version of the dense model used by Score.");
    public Histogram Freshness { get; } = new("recsys_update_freshness_seconds", "Time from an update's source record to its row being readable.");

    /// <summary>
    /// Row reads answered from memory (hot-row cache or resident tier) and from FASTER, read when /metrics is
    /// rendered; null when the store has neither in front of it.
    /// </summary>
    public Func<(long Hits, long Misses)>? StoreMemoryReads { get; set; }

    public Histogram Latency(string method) => _latency.GetOrAdd(method, m => new Histogram("recsys_request_seconds", "Server-side request latency.", $"method=\"{m}\""));

    public void Request(string method, string code) => _requests.GetOrAdd((method, code), k =>
        new Counter("recsys_requests_total", "Requests by method and status.", $"method=\"{k.Method}\",code=\"{k.Code}\"")).Add();

    public string Render() => PrometheusText.Render(
        _requests.Values.OrderBy(c => c.Labels).Concat([RowsServed, UpdatesApplied, UpdatesIgnored, UpdatesMalformed, UpdatesHeld, VocabularyEntriesApplied, VocabularyConflicts, Rejected, Unauthenticated, Streams])
            .Concat(StoreReadCounters()),
        [UpdateLagSeconds, DenseModelVersion],
        _latency.Values.OrderBy(h => h.Labels).Concat([Freshness]));

    private IEnumerable<Counter> StoreReadCounters()
    {
        if (StoreMemoryReads is null) yield break;
        var (hits, misses) = StoreMemoryReads();
        const string help = "Row reads by where they were answered: memory (hot-row cache or resident tier) or the FASTER store.";
        var memory = new Counter("recsys_store_row_reads_total", help, "source=\"memory\"");
        memory.Add(hits);
        var faster = new Counter("recsys_store_row_reads_total", help, "source=\"faster\"");
        faster.Add(misses);
        yield return memory;
        yield return faster;
    }
}
