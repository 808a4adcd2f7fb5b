using System.Net.Http.Headers;
using System.Text;
using Grpc.Core;
using RecsysEmbed.Client;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Protos;
using StackExchange.Redis;

namespace RecsysEmbed.Serving.Loadgen;

/// <summary>Lookup over gRPC through <see cref="RecsysEmbedClient"/> (one shared channel).</summary>
public sealed class GrpcLoadTarget(string address, LoadShape shape, string? apiKey, TimeSpan deadline) : ILoadTarget
{
    private readonly RecsysEmbedClient _client = new(address, new RecsysEmbedClientOptions { ApiKey = apiKey, DefaultDeadline = deadline });
    private readonly System.Collections.Concurrent.ConcurrentBag<ShapeRequest> _idle = [];
    public string Name => "grpc " + address + shape.Label();

    public async ValueTask CallAsync(ReadOnlyMemory<string> values, CancellationToken cancel)
    {
        // Concurrent calls each take a request of their own (serialized before the call returns, then put back).
        var request = _idle.TryTake(out var idle) ? idle : new ShapeRequest(_client, shape);
        try
        {
            var message = request.Fill(values.Span);
            LoadShape.Check(await _client.LookupAsync(message, cancel: cancel).ConfigureAwait(false), message);
        }
        finally { _idle.Add(request); }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Lookup over the bidirectional LookupStream RPC: each caller owns one stream (<see cref="LookupStream"/>, one
/// request at a time, the deadline per message) on the one shared channel; same request shape as <see cref="GrpcLoadTarget"/>.
/// </summary>
public sealed class GrpcStreamLoadTarget(string address, LoadShape shape, string? apiKey, TimeSpan deadline) : IPerCallerLoadTarget
{
    private readonly RecsysEmbedClient _client = new(address, new RecsysEmbedClientOptions { ApiKey = apiKey, DefaultDeadline = deadline });
    private readonly System.Collections.Concurrent.ConcurrentBag<Caller> _pool = [];
    public string Name => "grpc-stream " + address + shape.Label();

    public ILoadCaller OpenCaller() => new Caller(_client.OpenLookupStream(), new ShapeRequest(_client, shape));

    /// <summary>Outside the generator: borrows an idle stream (or opens one), so concurrent calls never share one.</summary>
    public async ValueTask CallAsync(ReadOnlyMemory<string> values, CancellationToken cancel)
    {
        var caller = _pool.TryTake(out var idle) ? idle : new Caller(_client.OpenLookupStream(), new ShapeRequest(_client, shape));
        try { await caller.CallAsync(values, cancel).ConfigureAwait(false); }
        finally { _pool.Add(caller); }
    }

    public async ValueTask DisposeAsync()
    {
        while (_pool.TryTake(out var caller)) await caller.DisposeAsync().ConfigureAwait(false);
        _client.Dispose();
    }

    /// <summary>One stream and one request object, refilled for every call (the request is serialized before the call returns).</summary>
    private sealed class Caller(LookupStream stream, ShapeRequest request) : ILoadCaller
    {
        private readonly LookupStream _stream = stream;

        public async ValueTask CallAsync(ReadOnlyMemory<string> values, CancellationToken cancel)
        {
            var message = request.Fill(values.Span);
            LoadShape.Check(await _stream.LookupAsync(message, cancel).ConfigureAwait(false), message);
        }

        public ValueTask DisposeAsync() => _stream.DisposeAsync();
    }
}

/// <summary>
/// Lookup through one <see cref="LookupMultiplexer"/> shared by every caller (the BatchLookupStream RPC): lookups that
/// wait while a message is out leave together in the next one, as StackExchange.Redis pipelines the Redis target's
/// callers on one connection. Same request shape as <see cref="GrpcLoadTarget"/>; each caller refills its own request.
/// </summary>
public sealed class GrpcMuxLoadTarget : IPerCallerLoadTarget
{
    private readonly LoadShape _shape;

    public GrpcMuxLoadTarget(string address, LoadShape shape, string? apiKey, TimeSpan deadline, int messagesInFlight, int connections = 1)
    {
        _shape = shape;
        Pool = new LookupMultiplexerPool(address, connections, new RecsysEmbedClientOptions { ApiKey = apiKey, DefaultDeadline = deadline },
            new LookupMultiplexerOptions { Deadline = deadline, MaxMessagesInFlight = messagesInFlight, CompleteInline = true }); // the generator's callers never block
        Name = $"grpc-mux {address}" + shape.Label() + (connections > 1 ? $" x{connections} connections" : "");
        if (shape.Compact)
        {
            using var client = new RecsysEmbedClient(address, new RecsysEmbedClientOptions { ApiKey = apiKey, DefaultDeadline = deadline });
            _model = client.Raw.ModelInfo(new ModelInfoRequest(), client.CallOptions());
        }
    }

    private readonly ModelInfoResponse? _model;

    public string Name { get; }
    public LookupMultiplexerPool Pool { get; }

    private int _callers;

    /// <summary>Each caller keeps one connection (callers spread over them in turn), so a connection's callers' lookups batch together.</summary>
    public ILoadCaller OpenCaller()
    {
        var m = Pool.Multiplexers[Interlocked.Increment(ref _callers) % Pool.Multiplexers.Count];
        return new Caller((r, c) => m.LookupAsync(r, c), new ShapeRequest(_model, _shape));
    }

    public async ValueTask CallAsync(ReadOnlyMemory<string> values, CancellationToken cancel)
    {
        var caller = new Caller(Pool.LookupAsync, new ShapeRequest(_model, _shape));
        await caller.CallAsync(values, cancel).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await Pool.DisposeAsync().ConfigureAwait(false);

    private sealed class Caller(Func<LookupRequest, CancellationToken, Task<LookupResponse>> lookup, ShapeRequest request) : ILoadCaller
    {
        public async ValueTask CallAsync(ReadOnlyMemory<string> values, CancellationToken cancel)
        {
            var message = request.Fill(values.Span);
            // The request is not touched again until this completes.
            LoadShape.Check(await lookup(message, cancel).ConfigureAwait(false), message);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>
/// One caller's request of the load shape, refilled for every call: named features (one <see cref="FeatureValues"/>
/// each) or, with <see cref="LoadShape.Compact"/>, the compact form with the features' model positions taken from ModelInfo.
/// </summary>
internal sealed class ShapeRequest
{
    private readonly LookupRequest? _named;
    private readonly CompactRequestBuilder? _compact;
    private readonly int[] _positions = [];

    public ShapeRequest(RecsysEmbedClient client, LoadShape shape)
        : this(shape.Compact ? client.Raw.ModelInfo(new ModelInfoRequest(), client.CallOptions()) : null, shape) { }

    public ShapeRequest(ModelInfoResponse? model, LoadShape shape)
    {
        if (shape.Compact)
        {
            _compact = new CompactRequestBuilder(model ?? throw new ArgumentNullException(nameof(model), "a compact request needs the model's feature list"), shape.Packed);
            _positions = Enumerable.Range(0, shape.Features).Select(f => _compact.PositionOf(shape.FeatureName(f))).ToArray();
            return;
        }
        _named = new LookupRequest { Packed = shape.Packed };
        for (int f = 0; f < shape.Features; f++)
        {
            var fv = new FeatureValues { Name = shape.FeatureName(f) };
            fv.Values.Add("");
            _named.Features.Add(fv);
        }
    }

    public LookupRequest Fill(ReadOnlySpan<string> values)
    {
        int features = _named?.Features.Count ?? _positions.Length;
        if (values.Length != features) throw new ArgumentException($"{values.Length} values for a request of {features} features.", nameof(values));
        if (_compact is { } builder)
        {
            builder.Clear();
            for (int f = 0; f < values.Length; f++) builder.Add(_positions[f], values[f]);
            return builder.Build();
        }
        for (int f = 0; f < values.Length; f++) _named!.Features[f].Values[0] = values[f];
        return _named!;
    }
}

/// <summary>Lookup as JSON over HTTP/1.1 (one shared HttpClient, pooled connections).</summary>
public sealed class HttpLoadTarget : ILoadTarget
{
    private readonly HttpClient _http;
    private readonly LoadShape _shape;

    public HttpLoadTarget(string address, LoadShape shape, string? apiKey, TimeSpan deadline)
    {
        _shape = shape;
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024, PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = new Uri(address), Timeout = deadline,
        };
        if (apiKey is not null) _http.DefaultRequestHeaders.Add("x-api-key", apiKey);
        Name = "http " + address;
    }

    public string Name { get; }

    public async ValueTask CallAsync(ReadOnlyMemory<string> values, CancellationToken cancel)
    {
        var sb = new StringBuilder("{\"features\":[");
        for (int f = 0; f < values.Length; f++)
        {
            if (f > 0) sb.Append(',');
            sb.Append("{\"name\":\"").Append(_shape.FeatureName(f)).Append("\",\"values\":[\"").Append(values.Span[f]).Append("\"]}");
        }
        sb.Append("]}");
        using var content = new StringContent(sb.ToString(), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
        using var response = await _http.PostAsync("/v1/lookup", content, cancel).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"HTTP {(int)response.StatusCode}", null, response.StatusCode);
        await response.Content.ReadAsByteArrayAsync(cancel).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The Redis baseline: one MGET of the request's F keys (values are the vectors as bytes).</summary>
public sealed class RedisLoadTarget : ILoadTarget
{
    private readonly ConnectionMultiplexer _redis;
    private readonly IDatabase _db;
    private readonly LoadShape _shape;

    public RedisLoadTarget(string endpoint, LoadShape shape)
    {
        _shape = shape;
        _redis = ConnectionMultiplexer.Connect(new ConfigurationOptions { EndPoints = { endpoint }, AbortOnConnectFail = true, ConnectTimeout = 5000, SyncTimeout = 5000 });
        _db = _redis.GetDatabase();
        Name = "redis " + endpoint;
    }

    public string Name { get; }
    public IDatabase Database => _db;

    public async ValueTask CallAsync(ReadOnlyMemory<string> values, CancellationToken cancel)
    {
        var keys = new RedisKey[values.Length];
        for (int f = 0; f < keys.Length; f++) keys[f] = _shape.RedisKey(f, values.Span[f]);
        var got = await _db.StringGetAsync(keys).ConfigureAwait(false);
        for (int f = 0; f < got.Length; f++)
        {
            if (got[f].IsNull) throw new KeyNotFoundException($"redis: key {keys[f]} is missing; fill Redis first (--redis-fill-from).");
        }
    }

    /// <summary>
    /// Stores, for every feature and value of the shape, the vector the lookup service returns for it (fp32 bytes), so
    /// Redis holds the same vectors the service serves.
    /// </summary>
    public async Task<long> FillFromAsync(RecsysEmbedClient service, CancellationToken cancel)
    {
        long written = 0;
        const int chunk = 256;
        for (int f = 0; f < _shape.Features; f++)
        {
            for (int start = 0; start < _shape.Cardinality; start += chunk)
            {
                int n = Math.Min(chunk, _shape.Cardinality - start);
                var values = Enumerable.Range(start, n).Select(LoadShape.Value).ToArray();
                var response = await service.LookupAsync(RecsysEmbedClient.Request(LookupMode.PerValue, (_shape.FeatureName(f), values)), TimeSpan.FromSeconds(30), cancel).ConfigureAwait(false);
                var fv = response.Features[0];
                var pairs = new KeyValuePair<RedisKey, RedisValue>[n];
                for (int i = 0; i < n; i++)
                {
                    var bytes = new byte[fv.Dim * sizeof(float)];
                    System.Runtime.InteropServices.MemoryMarshal.AsBytes(fv.Values.ToArray().AsSpan(i * fv.Dim, fv.Dim)).CopyTo(bytes);
                    pairs[i] = new(_shape.RedisKey(f, values[i]), bytes);
                }
                await _db.StringSetAsync(pairs).ConfigureAwait(false);
                written += n;
            }
        }
        return written;
    }

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync().ConfigureAwait(false);
}

/// <summary>In-process: the lookup engine on the store directly (hash, address, FASTER read, combine, pool), no network.</summary>
public sealed class InProcessLoadTarget(LookupEngine engine, LoadShape shape) : ISyncLoadTarget
{
    private readonly int[] _featureIndex = Enumerable.Range(0, shape.Features).Select(f =>
        engine.Model.Features.Select((b, i) => (b, i)).FirstOrDefault(x => x.b.Name == shape.FeatureName(f), (null!, -1)).Item2 is int i && i >= 0
            ? i : throw new ArgumentException($"--features: the model has no feature '{shape.FeatureName(f)}'.")).ToArray();
    [ThreadStatic] private static float[]? t_output;

    public LookupEngine Engine => engine;
    public string Name => engine.Store.Resident is { } tier ? $"in-process, resident rows {tier.Bytes >> 20} MiB"
        : engine.Store.Cache is { } cache ? $"in-process, hot cache {cache.Bytes >> 20} MiB" : "in-process";

    public ValueTask CallAsync(ReadOnlyMemory<string> values, CancellationToken cancel)
    {
        Call(values.Span);
        return ValueTask.CompletedTask;
    }

    public void Call(ReadOnlySpan<string> values)
    {
        var q = engine.Rent();
        try
        {
            for (int f = 0; f < values.Length; f++)
            {
                q.BeginFeature(_featureIndex[f]);
                q.AddId(engine.Model.Features[_featureIndex[f]].IdOf(values[f]));
            }
            int n = engine.OutputLength(q, LookupShape.Pooled);
            if (t_output is null || t_output.Length < n) t_output = new float[n];
            engine.Execute(q, LookupShape.Pooled, t_output);
        }
        finally
        {
            engine.Return(q);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Kinds of failure a load test reports apart.</summary>
internal static class ErrorKind
{
    public static string Of(Exception e) => e switch
    {
        RpcException r => r.StatusCode.ToString(),
        HttpRequestException { StatusCode: { } code } => $"HTTP {(int)code}",
        HttpRequestException => "connection",
        TaskCanceledException => "timeout",
        RedisTimeoutException => "redis timeout",
        RedisConnectionException => "redis connection",
        KeyNotFoundException => "missing key",
        _ => e.GetType().Name,
    };
}
