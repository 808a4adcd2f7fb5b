using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RecsysEmbed.Core.Updates;
using RecsysEmbed.Serving.Protos;
using RecsysEmbed.Serving.Updates;

namespace RecsysEmbed.Serving.Service;

/// <summary>
/// The lookup service on Kestrel: gRPC on one port (cleartext HTTP/2) and HTTP/JSON on another (HTTP/1.1; cleartext
/// Kestrel cannot negotiate both on one port). Every route answers on both ports.
/// <code>
///   gRPC  recsysembed.serving.v1.EmbeddingLookup/{Lookup, LookupStream, BatchLookup, Score, ModelInfo, Health}
///   HTTP  POST /v1/lookup  /v1/batch-lookup  /v1/score     (JSON of the same messages, protobuf JSON mapping)
///         GET  /v1/model  /health  /metrics (Prometheus text)
///         POST /v1/admin/updates (update-topic records pushed over HTTP)  /v1/admin/checkpoint
/// </code>
/// Every call but /health and /metrics passes the API-key check (UNAUTHENTICATED / 401) and the concurrency gate
/// (RESOURCE_EXHAUSTED / 429 when the queue is full). LookupStream passes the key check when it opens and the gate once
/// per message (in <see cref="GrpcLookupService.LookupStream"/>), not for its whole life.
/// </summary>
public sealed class LookupServer : IAsyncDisposable
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default);
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default);
    private readonly WebApplication _app;

    private LookupServer(WebApplication app, LookupCore core, ConcurrencyGate gate, int port, int httpPort, IPAddress bind)
    {
        _app = app;
        Core = core;
        Gate = gate;
        Port = port;
        HttpPort = httpPort;
        Bind = bind;
    }

    public LookupCore Core { get; }
    public ConcurrencyGate Gate { get; }
    /// <summary>The gRPC port.</summary>
    public int Port { get; }
    public int HttpPort { get; }
    public IPAddress Bind { get; }
    public string GrpcAddress => $"http://{FormatHost()}:{Port}";
    public string HttpAddress => $"http://{FormatHost()}:{HttpPort}";

    private string FormatHost() => Bind.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{Bind}]" : Bind.ToString();

    public static async Task<LookupServer> StartAsync(LookupCore core, LookupServiceOptions options, CancellationToken cancel = default)
    {
        options.Validate();
        var gate = new ConcurrencyGate(options.MaxConcurrent, options.MaxQueue);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (options.InlineIo) builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(options.Bind, options.Port, l => l.Protocols = HttpProtocols.Http2);
            k.Listen(options.Bind, options.HttpPort ?? (options.Port == 0 ? 0 : options.Port + 1), l => l.Protocols = HttpProtocols.Http1);
            k.Limits.MaxRequestBodySize = options.MaxRequestBytes;
            k.Limits.Http2.MaxStreamsPerConnection = Math.Max(100, options.MaxConcurrent + options.MaxQueue);
        });
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = (int)Math.Min(int.MaxValue, options.MaxRequestBytes);
            o.MaxSendMessageSize = null;
        });
        builder.Services.AddSingleton(core);
        builder.Services.AddSingleton(gate);
        var app = builder.Build();
        byte[]? key = options.ApiKey is null ? null : Encoding.UTF8.GetBytes(options.ApiKey);
        app.Use(async (ctx, next) =>
        {
            string path = ctx.Request.Path.Value ?? "";
            bool grpc = ctx.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true;
            if (path is "/health" or "/metrics")
            {
                await next(ctx);
                return;
            }
            if (key is not null && !HasKey(ctx.Request, key))
            {
                core.Metrics.Unauthenticated.Add();
                await Refuse(ctx, grpc, grpcStatus: 16, httpStatus: 401, "missing or wrong API key (send it as x-api-key).");
                return;
            }
            if (grpc && path is GrpcLookupService.LookupStreamPath or GrpcLookupService.BatchLookupStreamPath)
            {
                // A stream may live for hours: it takes a slot per message instead (GrpcLookupService.LookupStream).
                await next(ctx);
                return;
            }
            if (!await gate.EnterAsync(ctx.RequestAborted))
            {
                core.Metrics.Rejected.Add();
                await Refuse(ctx, grpc, grpcStatus: 8, httpStatus: 429,
                    $"overloaded: {gate.MaxConcurrent} requests running and {gate.MaxQueue} queued; retry later.");
                return;
            }
            try { await next(ctx); }
            finally { gate.Release(); }
        });
        app.MapGrpcService<GrpcLookupService>();
        MapHttp(app, core);
        await app.StartAsync(cancel).ConfigureAwait(false);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        // Kestrel lists the endpoints in the order they were configured: gRPC first, then HTTP/JSON.
        var ports = addresses.Select(a => new Uri(a.Replace("[::]", "localhost", StringComparison.Ordinal)).Port).ToArray();
        return new LookupServer(app, core, gate, ports[0], ports[1], options.Bind);
    }

    private static bool HasKey(HttpRequest request, byte[] key)
    {
        string? given = request.Headers["x-api-key"].FirstOrDefault();
        if (given is null && request.Headers.Authorization.FirstOrDefault() is { } auth && auth.StartsWith("Bearer ", StringComparison.Ordinal)) given = auth[7..];
        return given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), key);
    }

    private static Task Refuse(HttpContext ctx, bool grpc, int grpcStatus, int httpStatus, string message)
    {
        if (grpc)
        {
            // A trailers-only gRPC response: HTTP 200 with the status in the headers.
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "application/grpc";
            ctx.Response.Headers["grpc-status"] = grpcStatus.ToString(System.Globalization.CultureInfo.InvariantCulture);
            ctx.Response.Headers["grpc-message"] = Uri.EscapeDataString(message);
            return Task.CompletedTask;
        }
        ctx.Response.StatusCode = httpStatus;
        return ctx.Response.WriteAsJsonAsync(new { error = message });
    }

    private static void MapHttp(WebApplication app, LookupCore core)
    {
        app.MapPost("/v1/lookup", (HttpContext ctx) => Json<LookupRequest, LookupResponse>(ctx, core.Lookup));
        app.MapPost("/v1/batch-lookup", (HttpContext ctx) => Json<BatchLookupRequest, BatchLookupResponse>(ctx, core.BatchLookup));
        app.MapPost("/v1/score", (HttpContext ctx) => Json<ScoreRequest, ScoreResponse>(ctx, core.Score));
        app.MapGet("/v1/model", (HttpContext ctx) => Write(ctx, core.ModelInfo()));
        app.MapGet("/health", (HttpContext ctx) => Write(ctx, core.Health()));
        app.MapGet("/metrics", (HttpContext ctx) =>
        {
            ctx.Response.ContentType = Metrics.PrometheusText.ContentType;
            return ctx.Response.WriteAsync(core.Metrics.Render());
        });
        app.MapPost("/v1/admin/checkpoint", async (HttpContext ctx) =>
        {
            if (core.Applier is null) { await Error(ctx, 409, "updates", "this service applies no updates."); return; }
            var (token, offsets) = await core.Applier.CheckpointAsync(ctx.RequestAborted);
            await ctx.Response.WriteAsJsonAsync(new { token = token.ToString(), offsets });
        });
        app.MapPost("/v1/admin/updates", async (HttpContext ctx) =>
        {
            if (core.Applier is null) { await Error(ctx, 409, "updates", "this service applies no updates."); return; }
            PushedUpdates? body;
            try { body = await JsonSerializer.DeserializeAsync<PushedUpdates>(ctx.Request.Body, cancellationToken: ctx.RequestAborted); }
            catch (JsonException e) { await Error(ctx, 400, "body", e.Message); return; }
            if (body?.Records is null) { await Error(ctx, 400, "records", "missing."); return; }
            var outcomes = new List<string>();
            for (int i = 0; i < body.Records.Length; i++)
            {
                var r = body.Records[i];
                byte[] k, v;
                try { (k, v) = (Convert.FromBase64String(r.Key ?? ""), Convert.FromBase64String(r.Value ?? "")); }
                catch (FormatException) { await Error(ctx, 400, $"records[{i}]", "key and value must be base64."); return; }
                outcomes.Add(core.Applier.Apply(new UpdateRecord(r.Topic ?? "", r.Partition, r.Offset, k, v)).ToString());
            }
            await ctx.Response.WriteAsJsonAsync(new { outcomes, offsets = core.Applier.Offsets });
        });
    }

    /// <summary>Body of POST /v1/admin/updates: records of the update topic, key and value base64.</summary>
    public sealed record PushedUpdates(PushedRecord[]? Records);
    public sealed record PushedRecord(string? Topic, int Partition, long Offset, string? Key, string? Value);

    private static async Task Json<TRequest, TResponse>(HttpContext ctx, Func<TRequest, TResponse> call)
        where TRequest : IMessage<TRequest>, new() where TResponse : IMessage
    {
        string body;
        using (var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8)) body = await reader.ReadToEndAsync(ctx.RequestAborted);
        TRequest request;
        try { request = Parser.Parse<TRequest>(body); }
        catch (InvalidProtocolBufferException e) { await Error(ctx, 400, "body", e.Message); return; }
        catch (InvalidJsonException e) { await Error(ctx, 400, "body", e.Message); return; }
        TResponse response;
        try { response = call(request); }
        catch (RequestException e) { await Error(ctx, 400, e.Field, e.Message); return; }
        await Write(ctx, response);
    }

    private static Task Write(HttpContext ctx, IMessage message)
    {
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(Formatter.Format(message));
    }

    private static Task Error(HttpContext ctx, int status, string field, string message)
    {
        ctx.Response.StatusCode = status;
        return ctx.Response.WriteAsJsonAsync(new { error = message, field });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
