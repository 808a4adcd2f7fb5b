using RecsysEmbed.Serving.Protos;

namespace RecsysEmbed.Client;

/// <summary>
/// Several <see cref="LookupMultiplexer"/>s, each on its own HTTP/2 connection (its own channel), lookups spread over
/// them in turn. The service reads, serves and answers one connection's messages one after another, so with one
/// connection only one of its cores works on a client's lookups at a time; N connections let N work at once
/// (measured on 2 vCPUs: 2 connections carried about 1.2x the lookups of 1; benchmarks/RESULTS.md). Thread-safe.
/// </summary>
public sealed class LookupMultiplexerPool : IAsyncDisposable, IDisposable
{
    private readonly RecsysEmbedClient[] _clients;
    private readonly LookupMultiplexer[] _multiplexers;
    private int _next = -1;

    public LookupMultiplexerPool(string address, int connections, RecsysEmbedClientOptions? clientOptions = null, LookupMultiplexerOptions? options = null)
    {
        if (connections < 1) throw new ArgumentOutOfRangeException(nameof(connections), connections, "a pool needs at least one connection.");
        clientOptions ??= new RecsysEmbedClientOptions();
        // One connection per channel: a second channel never shares the first one's connection.
        _clients = Enumerable.Range(0, connections).Select(_ => new RecsysEmbedClient(address, clientOptions with { MultipleConnections = false })).ToArray();
        _multiplexers = _clients.Select(c => c.OpenLookupMultiplexer(options ?? new LookupMultiplexerOptions { Deadline = clientOptions.DefaultDeadline })).ToArray();
    }

    public IReadOnlyList<LookupMultiplexer> Multiplexers => _multiplexers;
    public LookupMultiplexerOptions Options => _multiplexers[0].Options;
    /// <summary>Lookups sent so far, over every connection.</summary>
    public long Lookups => _multiplexers.Sum(m => m.Lookups);
    /// <summary>Messages sent so far, over every connection.</summary>
    public long Messages => _multiplexers.Sum(m => m.Messages);

    /// <summary>One lookup on the next connection in turn (see <see cref="LookupMultiplexer.LookupAsync(LookupRequest, TimeSpan?, CancellationToken)"/>).</summary>
    public Task<LookupResponse> LookupAsync(LookupRequest request, CancellationToken cancel = default) => LookupAsync(request, null, cancel);

    public Task<LookupResponse> LookupAsync(LookupRequest request, TimeSpan? deadline, CancellationToken cancel = default) =>
        _multiplexers[(int)((uint)Interlocked.Increment(ref _next) % (uint)_multiplexers.Length)].LookupAsync(request, deadline, cancel);

    public void Dispose()
    {
        foreach (var m in _multiplexers) m.Dispose();
        foreach (var c in _clients) c.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var m in _multiplexers) await m.DisposeAsync().ConfigureAwait(false);
        foreach (var c in _clients) c.Dispose();
    }
}
