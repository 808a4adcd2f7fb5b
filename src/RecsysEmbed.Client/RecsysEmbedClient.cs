using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using RecsysEmbed.Serving.Protos;

namespace RecsysEmbed.Client;

/// <summary>Connection, deadline and authentication settings of a <see cref="RecsysEmbedClient"/>.</summary>
public sealed record RecsysEmbedClientOptions
{
    /// <summary>Deadline of a call that names none.</summary>
    public TimeSpan DefaultDeadline { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Sent as x-api-key metadata on every call when set.</summary>
    public string? ApiKey { get; init; }
    /// <summary>Open more HTTP/2 connections when one has reached its concurrent-stream limit.</summary>
    public bool MultipleConnections { get; init; } = true;
}

/// <summary>
/// Client of the lookup service over gRPC. One instance holds one channel whose HTTP/2 connections are reused by every
/// call (create it once and share it; it is thread-safe). Every call carries a deadline (its own or the default), so a
/// stalled server surfaces as DEADLINE_EXCEEDED instead of a hang.
/// <code>
///   using var client = new RecsysEmbedClient("http://127.0.0.1:8500");
///   var r = await client.LookupAsync(RecsysEmbedClient.Request(("C1", ["68fd1e64"]), ("C2", ["80e26c9b"])));
/// </code>
/// </summary>
public sealed class RecsysEmbedClient : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly Metadata? _headers;

    public RecsysEmbedClient(string address, RecsysEmbedClientOptions? options = null)
    {
        Options = options ?? new RecsysEmbedClientOptions();
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = Options.MultipleConnections,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
        };
        _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        Raw = new EmbeddingLookup.EmbeddingLookupClient(_channel);
        if (Options.ApiKey is not null) _headers = new Metadata { { "x-api-key", Options.ApiKey } };
    }

    public RecsysEmbedClientOptions Options { get; }
    /// <summary>The generated stub, for calls this wrapper does not cover.</summary>
    public EmbeddingLookup.EmbeddingLookupClient Raw { get; }

    public CallOptions CallOptions(TimeSpan? deadline = null, CancellationToken cancel = default) =>
        new(_headers, DateTime.UtcNow + (deadline ?? Options.DefaultDeadline), cancel);

    public LookupResponse Lookup(LookupRequest request, TimeSpan? deadline = null, CancellationToken cancel = default) =>
        Raw.Lookup(request, CallOptions(deadline, cancel));

    public async Task<LookupResponse> LookupAsync(LookupRequest request, TimeSpan? deadline = null, CancellationToken cancel = default) =>
        await Raw.LookupAsync(request, CallOptions(deadline, cancel)).ConfigureAwait(false);

    public async Task<BatchLookupResponse> BatchLookupAsync(BatchLookupRequest request, TimeSpan? deadline = null, CancellationToken cancel = default) =>
        await Raw.BatchLookupAsync(request, CallOptions(deadline, cancel)).ConfigureAwait(false);

    public async Task<ScoreResponse> ScoreAsync(ScoreRequest request, TimeSpan? deadline = null, CancellationToken cancel = default) =>
        await Raw.ScoreAsync(request, CallOptions(deadline, cancel)).ConfigureAwait(false);

    public async Task<ModelInfoResponse> ModelInfoAsync(TimeSpan? deadline = null, CancellationToken cancel = default) =>
        await Raw.ModelInfoAsync(new ModelInfoRequest(), CallOptions(deadline, cancel)).ConfigureAwait(false);

    public async Task<HealthResponse> HealthAsync(TimeSpan? deadline = null, CancellationToken cancel = default) =>
        await Raw.HealthAsync(new HealthRequest(), CallOptions(deadline, cancel)).ConfigureAwait(false);

    /// <summary>A lookup request from (feature, raw values) pairs.</summary>
    public static LookupRequest Request(params (string Feature, string[] Values)[] features) => Request(LookupMode.Pooled, features);

    public static LookupRequest Request(LookupMode mode, params (string Feature, string[] Values)[] features)
    {
        var request = new LookupRequest { Mode = mode };
        foreach (var (name, values) in features)
        {
            var fv = new FeatureValues { Name = name };
            fv.Values.Add(values);
            request.Features.Add(fv);
        }
        return request;
    }

    public void Dispose() => _channel.Dispose();
}
