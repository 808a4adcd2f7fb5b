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

    /// <summary>
    /// Opens a <see cref="LookupStream"/>: lookups on one long-lived bidirectional stream, answered in order, without
    /// the per-call cost of a unary call (HTTP/2 stream, headers, trailers). One request at a time per stream object;
    /// give each concurrent caller its own. <paramref name="deadline"/> (default <see cref="RecsysEmbedClientOptions.DefaultDeadline"/>)
    /// applies to each message, not to the stream, which lives until disposed. The stream opens with the first lookup.
    /// </summary>
    public LookupStream OpenLookupStream(TimeSpan? deadline = null) => new(Raw, _headers, deadline ?? Options.DefaultDeadline);

    /// <summary>
    /// Opens a <see cref="LookupMultiplexer"/>: any number of concurrent callers share one BatchLookupStream, their
    /// lookups sent together as one message per round trip. <see cref="LookupMultiplexerOptions.Deadline"/> defaults to
    /// <see cref="RecsysEmbedClientOptions.DefaultDeadline"/>. The stream opens with the first lookup.
    /// </summary>
    public LookupMultiplexer OpenLookupMultiplexer(LookupMultiplexerOptions? options = null) =>
        new(Raw, _headers, options ?? new LookupMultiplexerOptions { Deadline = Options.DefaultDeadline });

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

/// <summary>
/// Lookups over one <c>LookupStream</c> call (see <see cref="RecsysEmbedClient.OpenLookupStream"/>). Each
/// <see cref="LookupAsync"/> writes one request and reads its response; one request at a time (a second concurrent
/// call throws <see cref="InvalidOperationException"/>).
/// <list type="bullet">
/// <item>A request the service refuses (a bad field: INVALID_ARGUMENT naming it; overload: RESOURCE_EXHAUSTED) throws
/// the <see cref="RpcException"/> a unary Lookup would, and the stream stays open for the next request.</item>
/// <item>Each message has its own deadline (the stream's <see cref="Deadline"/>, or the one given): past it the call is abandoned (DEADLINE_EXCEEDED; a late response could
/// not be matched to its request). The same when <c>cancel</c> fires (OperationCanceledException) or the stream ends
/// with a status (UNAUTHENTICATED without the key, UNAVAILABLE when the server goes away): that status is thrown. The
/// next lookup then opens a new stream, so one failure never poisons the object.</item>
/// </list>
/// Dispose completes the stream (the server sees a clean end); not thread-safe apart from that one-at-a-time check.
/// </summary>
public sealed class LookupStream : IAsyncDisposable, IDisposable
{
    private readonly EmbeddingLookup.EmbeddingLookupClient _raw;
    private readonly Metadata? _headers;
    private AsyncDuplexStreamingCall<LookupRequest, LookupResponse>? _call;
    private CancellationTokenSource _timer = new();
    private int _busy;
    private bool _disposed;

    internal LookupStream(EmbeddingLookup.EmbeddingLookupClient raw, Metadata? headers, TimeSpan deadline)
    {
        if (deadline <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(deadline), deadline, "the per-message deadline must be positive.");
        _raw = raw;
        _headers = headers;
        Deadline = deadline;
    }

    /// <summary>Deadline of each message.</summary>
    public TimeSpan Deadline { get; }
    /// <summary>Streams opened so far (1 while nothing has failed; each failure makes the next lookup open another).</summary>
    public int Opened { get; private set; }

    /// <summary>One lookup with the stream's <see cref="Deadline"/>.</summary>
    public Task<LookupResponse> LookupAsync(LookupRequest request, CancellationToken cancel = default) => LookupAsync(request, null, cancel);

    /// <summary>One lookup with its own deadline (null: the stream's <see cref="Deadline"/>).</summary>
    public async Task<LookupResponse> LookupAsync(LookupRequest request, TimeSpan? deadline, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var limit = deadline ?? Deadline;
        if (limit <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(deadline), deadline, "the deadline must be positive.");
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new InvalidOperationException("LookupStream: one request at a time; open one stream per concurrent caller.");
        LookupResponse response;
        try
        {
            cancel.ThrowIfCancellationRequested();
            if (_call is null)
            {
                _call = _raw.LookupStream(new CallOptions(_headers)); // no deadline on the stream: one per message
                Opened++;
            }
            var call = _call;
            if (!_timer.TryReset())
            {
                _timer.Dispose();
                _timer = new CancellationTokenSource();
            }
            var timer = _timer;
            timer.CancelAfter(limit);
            using (cancel.CanBeCanceled ? cancel.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timer) : default)
            {
                try
                {
                    try
                    {
                        await call.RequestStream.WriteAsync(request, timer.Token).ConfigureAwait(false);
                    }
                    catch (RpcException) when (!timer.IsCancellationRequested)
                    {
                        // A call the server has already ended (UNAUTHENTICATED when the stream opens) can fail the write
                        // with a bare CANCELLED: reading the response surfaces the call's own status instead.
                        await call.ResponseStream.MoveNext(timer.Token).ConfigureAwait(false);
                        throw;
                    }
                    if (!await call.ResponseStream.MoveNext(timer.Token).ConfigureAwait(false))
                        throw new RpcException(StatusOf(call) ?? new Status(StatusCode.Internal, "LookupStream: the server ended the stream without answering."));
                    response = call.ResponseStream.Current;
                }
                catch (Exception e)
                {
                    // The stream is of no further use: a response may still be on its way. Drop it; the next lookup opens a new one.
                    Abandon();
                    if (cancel.IsCancellationRequested) throw new OperationCanceledException("LookupStream: the lookup was cancelled.", e, cancel);
                    if (timer.IsCancellationRequested)
                        throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"LookupStream: no response within {limit.TotalMilliseconds:N0} ms.", e));
                    if (e is RpcException) throw;
                    if (StatusOf(call) is { } status) throw new RpcException(status);
                    throw;
                }
            }
            timer.TryReset(); // stop the clock between messages
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
        if (response.Error is { } error) throw new RpcException(new Status((StatusCode)error.Code, error.Message));
        return response;
    }

    private static Status? StatusOf(AsyncDuplexStreamingCall<LookupRequest, LookupResponse> call)
    {
        try { return call.GetStatus(); }
        catch (InvalidOperationException) { return null; } // still running
    }

    private void Abandon()
    {
        _call?.Dispose(); // cancels the call if it is still running
        _call = null;
    }

    /// <summary>Cancels the stream at once.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Abandon();
        _timer.Dispose();
    }

    /// <summary>Completes the stream and waits (at most <see cref="Deadline"/>) for the server to end it cleanly.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        if (_call is { } call && Volatile.Read(ref _busy) == 0)
        {
            try
            {
                using var wait = new CancellationTokenSource(Deadline);
                await call.RequestStream.CompleteAsync().ConfigureAwait(false);
                while (await call.ResponseStream.MoveNext(wait.Token).ConfigureAwait(false)) { }
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException or InvalidOperationException or IOException)
            {
                // Already broken or slow to end: Dispose cancels it.
            }
        }
        Dispose();
    }
}
