using System.Diagnostics;
using Grpc.Core;
using RecsysEmbed.Serving.Protos;

namespace RecsysEmbed.Client;

/// <summary>Settings of a <see cref="LookupMultiplexer"/>.</summary>
public sealed record LookupMultiplexerOptions
{
    /// <summary>Deadline of each lookup (from the moment it is queued).</summary>
    public TimeSpan Deadline { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>At most this many requests in one message (the service refuses more than its max batch, 1024 by default).</summary>
    public int MaxBatch { get; init; } = 256;
    /// <summary>
    /// Messages sent and not yet answered. While this many are out, new lookups wait and go together in the next
    /// message: 1 batches the most (every lookup that arrives during a round trip shares the next message), more
    /// overlaps round trips at the cost of smaller batches.
    /// </summary>
    public int MaxMessagesInFlight { get; init; } = 1;
    /// <summary>Lookups queued or in flight beyond which a new one is refused at once (RESOURCE_EXHAUSTED), so a stalled
    /// service cannot make the client's memory grow without bound.</summary>
    public int MaxOutstanding { get; init; } = 65_536;
    /// <summary>
    /// Run each caller's continuation on the thread that received the response, instead of queueing it to the thread
    /// pool: fewer thread wake-ups per lookup, and every caller woken by one response is queued again before the next
    /// message leaves. Only for callers whose continuations never block (a blocking one stalls every caller).
    /// </summary>
    public bool CompleteInline { get; init; }
}

/// <summary>
/// Lookups from any number of concurrent callers over one BatchLookupStream call. Lookups that arrive while earlier
/// messages are out wait in a queue and leave together, as one message, when a message slot frees
/// (<see cref="LookupMultiplexerOptions.MaxMessagesInFlight"/>); the service answers each message with one response per
/// request, in order, and each caller gets its own. This is the pattern of StackExchange.Redis, which pipelines every
/// caller's commands on one connection: the per-call cost of gRPC (HTTP/2 frames, a flush, a wake-up on each side) is
/// paid once per message instead of once per lookup.
/// <list type="bullet">
/// <item>Thread-safe; share one per process and service. A caller's request must not change until its lookup completes.</item>
/// <item>A refused request (a bad field: INVALID_ARGUMENT naming it; overload: RESOURCE_EXHAUSTED) throws the
/// <see cref="RpcException"/> a unary Lookup would; the other requests of its message are served.</item>
/// <item>Past its deadline a lookup throws DEADLINE_EXCEEDED (its late response is discarded; others are unaffected);
/// <c>cancel</c> throws OperationCanceledException. When the stream fails (UNAVAILABLE, UNAUTHENTICATED, ...), every
/// lookup on it throws that status and the next lookup opens a new stream.</item>
/// </list>
/// </summary>
public sealed class LookupMultiplexer : IAsyncDisposable, IDisposable
{
    private readonly EmbeddingLookup.EmbeddingLookupClient _raw;
    private readonly Metadata? _headers;
    private readonly object _lock = new();
    private readonly Queue<Pending> _queued = new();
    private Connection? _connection;
    private bool _pumping, _closing, _disposed;
    private int _outstanding;
    private long _lookups, _messages, _opened;
    private readonly long _deadlineTicks;
    private Timer? _sweeper;

    internal LookupMultiplexer(EmbeddingLookup.EmbeddingLookupClient raw, Metadata? headers, LookupMultiplexerOptions options)
    {
        if (options.Deadline <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), options.Deadline, "Deadline must be positive.");
        if (options.MaxBatch < 1) throw new ArgumentOutOfRangeException(nameof(options), options.MaxBatch, "MaxBatch must be at least 1.");
        if (options.MaxMessagesInFlight < 1) throw new ArgumentOutOfRangeException(nameof(options), options.MaxMessagesInFlight, "MaxMessagesInFlight must be at least 1.");
        if (options.MaxOutstanding < 1) throw new ArgumentOutOfRangeException(nameof(options), options.MaxOutstanding, "MaxOutstanding must be at least 1.");
        _raw = raw;
        _headers = headers;
        Options = options;
        _deadlineTicks = (long)(options.Deadline.TotalSeconds * Stopwatch.Frequency);
    }

    public LookupMultiplexerOptions Options { get; }
    /// <summary>Lookups sent so far.</summary>
    public long Lookups => Interlocked.Read(ref _lookups);
    /// <summary>Messages sent so far (<see cref="Lookups"/> / <see cref="Messages"/> is the mean batch).</summary>
    public long Messages => Interlocked.Read(ref _messages);
    /// <summary>Streams opened so far (1 while nothing has failed).</summary>
    public long Opened => Interlocked.Read(ref _opened);

    /// <summary>One lookup with the multiplexer's deadline.</summary>
    public Task<LookupResponse> LookupAsync(LookupRequest request, CancellationToken cancel = default) => LookupAsync(request, null, cancel);

    /// <summary>One lookup with its own deadline (null: <see cref="LookupMultiplexerOptions.Deadline"/>).</summary>
    public async Task<LookupResponse> LookupAsync(LookupRequest request, TimeSpan? deadline, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var limit = deadline ?? Options.Deadline;
        if (limit <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(deadline), deadline, "the deadline must be positive.");
        cancel.ThrowIfCancellationRequested();
        var pending = new Pending(request, Options.CompleteInline);
        // The common case (the multiplexer's deadline, nothing to cancel) needs no timer of its own: the sweeper fails
        // it once past its deadline. Others wait with their own timer and cancellation.
        bool swept = deadline is null && !cancel.CanBeCanceled;
        if (swept) pending.Expires = Stopwatch.GetTimestamp() + _deadlineTicks;
        bool pump;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed || _closing, this);
            if (_outstanding >= Options.MaxOutstanding)
                throw new RpcException(new Status(StatusCode.ResourceExhausted, $"LookupMultiplexer: {_outstanding} lookups outstanding (MaxOutstanding); the service is not keeping up."));
            _outstanding++;
            _queued.Enqueue(pending);
            pump = ClaimPump(CanSend() && t_completing != this);
            if (swept) _sweeper ??= StartSweeper();
        }
        if (pump) _ = PumpAsync(onCallerThread: true);
        if (swept) return await pending.Task.ConfigureAwait(false);
        try
        {
            return await pending.Task.WaitAsync(limit, cancel).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            pending.Abandon();
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"LookupMultiplexer: no response within {limit.TotalMilliseconds:N0} ms.", e));
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            pending.Abandon();
            throw;
        }
    }

    /// <summary>
    /// Under _lock: the timer that fails lookups past the multiplexer's deadline, every tenth of it (1 to 100 ms), so a
    /// lookup fails at most that late. It holds the multiplexer weakly: an undisposed one can still be collected.
    /// </summary>
    private Timer StartSweeper()
    {
        var period = TimeSpan.FromTicks(Math.Clamp(Options.Deadline.Ticks / 10, TimeSpan.TicksPerMillisecond, 100 * TimeSpan.TicksPerMillisecond));
        var owner = new SweeperOwner(new WeakReference<LookupMultiplexer>(this));
        owner.Timer = new Timer(static state =>
        {
            var owner = (SweeperOwner)state!;
            if (owner.Multiplexer.TryGetTarget(out var mux)) mux.Sweep();
            else owner.Timer?.Dispose(); // collected without Dispose: stop ticking
        }, owner, period, period);
        return owner.Timer;
    }

    private sealed class SweeperOwner(WeakReference<LookupMultiplexer> multiplexer)
    {
        public readonly WeakReference<LookupMultiplexer> Multiplexer = multiplexer;
        public Timer? Timer;
    }

    private void Sweep()
    {
        long now = Stopwatch.GetTimestamp();
        List<Pending>? expired = null;
        lock (_lock)
        {
            if (_outstanding == 0) return;
            foreach (var p in _queued)
                if (p.Expires != 0 && now >= p.Expires) (expired ??= []).Add(p);
            if (_connection is { } connection)
                foreach (var batch in connection.InFlight)
                    foreach (var p in batch)
                        if (p.Expires != 0 && now >= p.Expires && !p.Task.IsCompleted) (expired ??= []).Add(p);
        }
        if (expired is null) return;
        var late = new RpcException(new Status(StatusCode.DeadlineExceeded, $"LookupMultiplexer: no response within {Options.Deadline.TotalMilliseconds:N0} ms."));
        foreach (var p in expired)
        {
            p.Abandon(); // a queued one is dropped before it leaves; a late response is discarded
            p.Fail(late);
        }
    }

    // Under _lock: a message may go now (no stream yet, or the stream has a free slot).
    private bool CanSend() => _connection is null || _connection.InFlight.Count < Options.MaxMessagesInFlight;

    /// <summary>
    /// Sends queued lookups, a batch per message, while there are some and a message slot is free. Started by the lookup
    /// or response that makes sending possible; at most one runs. On the caller's thread it sends one message and then
    /// moves to the thread pool, so no caller is kept sending other callers' lookups.
    /// </summary>
    private async Task PumpAsync(bool onCallerThread)
    {
        try
        {
            await PumpLoopAsync(onCallerThread).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Not a stream failure (those are handled per connection) but one in starting a call, e.g. a disposed
            // channel: fail what waits, and let the next lookup try again.
            List<Pending> queued;
            lock (_lock)
            {
                _pumping = false;
                queued = [.. _queued];
                _queued.Clear();
                _outstanding -= queued.Count;
            }
            var failure = e as RpcException ?? new RpcException(new Status(StatusCode.Unavailable, "LookupMultiplexer: " + e.Message, e));
            foreach (var p in queued) p.Fail(failure);
        }
    }

    private async Task PumpLoopAsync(bool onCallerThread)
    {
        var message = new BatchLookupRequest();
        while (true)
        {
            Connection connection;
            Pending[] batch;
            bool opened = false;
            lock (_lock)
            {
                while (_queued.Count > 0 && _queued.Peek().Abandoned)
                {
                    _queued.Dequeue();
                    _outstanding--; // dropped before it was sent
                }
                if (_queued.Count == 0 || !CanSend() || _disposed)
                {
                    _pumping = false;
                    return;
                }
                if (_connection is null) // before taking the batch: if starting the call throws, the lookups are still queued
                {
                    _connection = new Connection(_raw.BatchLookupStream(new CallOptions(_headers))); // no deadline on the stream: one per lookup
                    Interlocked.Increment(ref _opened);
                    opened = true;
                }
                connection = _connection;
                batch = new Pending[Math.Min(_queued.Count, Options.MaxBatch)]; // the head is live, the rest may not be
                int n = 0;
                while (n < batch.Length && _queued.TryDequeue(out var p))
                {
                    if (p.Abandoned) _outstanding--; // past its deadline or cancelled before it left: dropped
                    else batch[n++] = p;
                }
                if (n < batch.Length) Array.Resize(ref batch, n);
                connection.InFlight.Enqueue(batch); // before the write, so the response always finds it
            }
            if (opened) connection.Receiving = ReceiveAsync(connection);
            message.Requests.Clear();
            foreach (var p in batch) message.Requests.Add(p.Request);
            Interlocked.Add(ref _lookups, batch.Length);
            Interlocked.Increment(ref _messages);
            try
            {
                var write = connection.Call.RequestStream.WriteAsync(message);
                if (!write.IsCompleted) onCallerThread = false;
                await write.ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // A call the server has already ended (UNAUTHENTICATED when the stream opens) can fail the write with a
                // bare CANCELLED: the receiver, reading the call's end, then fails the batch with the call's own status.
                if (e is RpcException { StatusCode: StatusCode.Cancelled } && connection.Receiving is { } receiving)
                    await Task.WhenAny(receiving, Task.Delay(Options.Deadline)).ConfigureAwait(false);
                Fail(connection, e is RpcException ? e : StatusOf(connection.Call) is { } status ? new RpcException(status) : e);
            }
            if (onCallerThread)
            {
                onCallerThread = false;
                await Task.Yield();
            }
        }
    }

    /// <summary>Matches each response message to the oldest batch in flight, then lets the pump send what waits.</summary>
    private async Task ReceiveAsync(Connection connection)
    {
        try
        {
            var responses = connection.Call.ResponseStream;
            while (await responses.MoveNext(CancellationToken.None).ConfigureAwait(false))
            {
                var message = responses.Current;
                Pending[] batch;
                bool pump;
                lock (_lock)
                {
                    if (!connection.InFlight.TryDequeue(out batch!))
                        throw new RpcException(new Status(StatusCode.Internal, "LookupMultiplexer: the service sent a response no request was waiting for."));
                    _outstanding -= batch.Length;
                    // Async completions: send what waits at once. Inline: first let this batch's callers queue their next lookups.
                    pump = ClaimPump(!Options.CompleteInline && _queued.Count > 0 && connection == _connection);
                }
                if (pump) _ = PumpAsync(onCallerThread: false);
                t_completing = this;
                try { Complete(batch, message); }
                finally { t_completing = null; }
                if (Options.CompleteInline)
                {
                    lock (_lock)
                    {
                        pump = ClaimPump(_queued.Count > 0 && connection == _connection && CanSend());
                    }
                    if (pump) _ = PumpAsync(onCallerThread: false);
                }
            }
            Fail(connection, new RpcException(StatusOf(connection.Call) ?? new Status(StatusCode.Unavailable, "LookupMultiplexer: the service ended the stream.")));
        }
        catch (Exception e)
        {
            Fail(connection, e is RpcException ? e : StatusOf(connection.Call) is { } status ? new RpcException(status) : e);
        }
    }

    private static void Complete(Pending[] batch, BatchLookupResponse message)
    {
        if (message.Responses.Count != batch.Length)
        {
            var mismatch = new RpcException(new Status(StatusCode.Internal, $"LookupMultiplexer: {message.Responses.Count} responses to a message of {batch.Length} requests."));
            foreach (var p in batch) p.Fail(mismatch);
            return;
        }
        for (int i = 0; i < batch.Length; i++)
        {
            var response = message.Responses[i];
            if (response.Error is { } error) batch[i].Fail(new RpcException(new Status((StatusCode)error.Code, error.Message)));
            else batch[i].Complete(response);
        }
    }

    // The multiplexer whose responses this thread is handing out (a lookup queued from an inline continuation leaves the sending to it).
    [ThreadStatic] private static LookupMultiplexer? t_completing;

    /// <summary>Ends a broken stream: its lookups in flight fail with <paramref name="error"/>; queued ones go on a new stream.</summary>
    private void Fail(Connection connection, Exception error)
    {
        List<Pending[]> lost;
        bool pump;
        lock (_lock)
        {
            if (connection.Failed) return;
            connection.Failed = true;
            if (_connection == connection) _connection = null;
            lost = [.. connection.InFlight];
            connection.InFlight.Clear();
            foreach (var batch in lost) _outstanding -= batch.Length;
            pump = ClaimPump(_queued.Count > 0 && !_disposed);
        }
        var failure = error as RpcException ?? new RpcException(new Status(StatusCode.Unavailable, "LookupMultiplexer: " + error.Message, error));
        foreach (var batch in lost)
            foreach (var p in batch) p.Fail(failure);
        connection.Call.Dispose();
        if (pump) _ = PumpAsync(onCallerThread: false);
    }

    // Under _lock: when there is sending to do and no pump runs, this caller becomes the pump (at most one runs).
    private bool ClaimPump(bool worthIt)
    {
        if (!worthIt || _pumping) return false;
        _pumping = true;
        return true;
    }

    private static Status? StatusOf(AsyncDuplexStreamingCall<BatchLookupRequest, BatchLookupResponse> call)
    {
        try { return call.GetStatus(); }
        catch (InvalidOperationException) { return null; } // still running
    }

    /// <summary>Cancels the stream at once: lookups still waiting throw.</summary>
    public void Dispose()
    {
        Connection? connection;
        List<Pending> queued;
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _sweeper?.Dispose();
            connection = _connection;
            queued = [.. _queued];
            _queued.Clear();
        }
        var disposed = new RpcException(new Status(StatusCode.Cancelled, "LookupMultiplexer: disposed."));
        foreach (var p in queued) p.Fail(disposed);
        if (connection is not null) Fail(connection, disposed);
    }

    /// <summary>Stops taking lookups, waits (at most the deadline) for those queued and in flight, completes the stream
    /// cleanly (the service sees its end), then disposes.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            if (_disposed || _closing) return;
            _closing = true;
        }
        try
        {
            using var wait = new CancellationTokenSource(Options.Deadline);
            Connection? connection;
            while (true)
            {
                lock (_lock)
                {
                    connection = _connection;
                    if (_queued.Count == 0 && !_pumping && (connection is null || connection.InFlight.Count == 0)) break;
                }
                await Task.Delay(1, wait.Token).ConfigureAwait(false); // only while closing with lookups still out
            }
            if (connection is not null)
            {
                await connection.Call.RequestStream.CompleteAsync().ConfigureAwait(false);
                await connection.Receiving.WaitAsync(wait.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException or InvalidOperationException or IOException)
        {
            // Already broken or slow to end: Dispose cancels it.
        }
        Dispose();
    }

    private sealed class Connection(AsyncDuplexStreamingCall<BatchLookupRequest, BatchLookupResponse> call)
    {
        public readonly AsyncDuplexStreamingCall<BatchLookupRequest, BatchLookupResponse> Call = call;
        public readonly Queue<Pending[]> InFlight = new();
        public Task Receiving = Task.CompletedTask;
        public bool Failed;
    }

    /// <summary>One caller's lookup: its request and the task its response completes.</summary>
    private sealed class Pending(LookupRequest request, bool inline)
        : TaskCompletionSource<LookupResponse>(inline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public readonly LookupRequest Request = request;
        /// <summary>Stopwatch timestamp past which the sweeper fails it; 0: it keeps its own deadline.</summary>
        public long Expires;
        private volatile bool _abandoned;
        public bool Abandoned => _abandoned;
        public void Abandon() => _abandoned = true;
        public void Complete(LookupResponse response) => TrySetResult(response);
        public void Fail(Exception error) => TrySetException(error);
    }
}
