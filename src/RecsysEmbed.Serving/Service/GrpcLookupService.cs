using Grpc.Core;
using RecsysEmbed.Serving.Protos;

namespace RecsysEmbed.Serving.Service;

/// <summary>The gRPC face of <see cref="LookupCore"/>: a refused request becomes INVALID_ARGUMENT naming the field.</summary>
internal sealed class GrpcLookupService(LookupCore core, ConcurrencyGate gate) : EmbeddingLookup.EmbeddingLookupBase
{
    /// <summary>Route of <see cref="LookupStream"/>: the server's middleware checks its API key but leaves admission to it.</summary>
    public const string LookupStreamPath = "/recsysembed.serving.v1.EmbeddingLookup/LookupStream";
    /// <summary>Route of <see cref="BatchLookupStream"/>, admitted per message like <see cref="LookupStreamPath"/>.</summary>
    public const string BatchLookupStreamPath = "/recsysembed.serving.v1.EmbeddingLookup/BatchLookupStream";

    public override Task<LookupResponse> Lookup(LookupRequest request, ServerCallContext context) => Run(() => core.Lookup(request));
    public override Task<BatchLookupResponse> BatchLookup(BatchLookupRequest request, ServerCallContext context) => Run(() => core.BatchLookup(request));
    public override Task<ScoreResponse> Score(ScoreRequest request, ServerCallContext context) => Run(() => core.Score(request));
    public override Task<ModelInfoResponse> ModelInfo(ModelInfoRequest request, ServerCallContext context) => Run(core.ModelInfo);
    public override Task<HealthResponse> Health(HealthRequest request, ServerCallContext context) => Run(core.Health);

    /// <summary>
    /// One response per request, in order, until the client completes its side. Each message passes the concurrency
    /// gate on its own (a stream holds no slot between messages, so long-lived streams never starve other callers);
    /// a message refused by the gate or by validation gets a response with <see cref="LookupResponse.Error"/>
    /// (RESOURCE_EXHAUSTED / INVALID_ARGUMENT) and the stream goes on. The response message, its vectors and the
    /// output buffer are reused from message to message (each is serialized before the next is built).
    /// </summary>
    public override async Task LookupStream(IAsyncStreamReader<LookupRequest> requestStream, IServerStreamWriter<LookupResponse> responseStream, ServerCallContext context)
    {
        var cancel = context.CancellationToken;
        var buffers = new LookupCore.StreamBuffers();
        core.Metrics.Streams.Add();
        while (await requestStream.MoveNext(cancel).ConfigureAwait(false))
        {
            LookupResponse response;
            if (!await gate.EnterAsync(cancel).ConfigureAwait(false))
            {
                core.Metrics.Rejected.Add();
                response = buffers.Refused(LookupCore.ResourceExhausted, "",
                    $"overloaded: {gate.MaxConcurrent} requests running and {gate.MaxQueue} queued; retry later.");
            }
            else
            {
                try { response = core.LookupStreamMessage(requestStream.Current, buffers); }
                finally { gate.Release(); }
            }
            await responseStream.WriteAsync(response, cancel).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Like <see cref="LookupStream"/>, one batch per message: the message passes the gate once, each request is
    /// served or refused on its own, and one response message answers it, in order. Buffers are reused as there.
    /// </summary>
    public override async Task BatchLookupStream(IAsyncStreamReader<BatchLookupRequest> requestStream, IServerStreamWriter<BatchLookupResponse> responseStream, ServerCallContext context)
    {
        var cancel = context.CancellationToken;
        var buffers = new LookupCore.BatchStreamBuffers();
        core.Metrics.Streams.Add();
        while (await requestStream.MoveNext(cancel).ConfigureAwait(false))
        {
            var request = requestStream.Current;
            BatchLookupResponse response;
            if (!await gate.EnterAsync(cancel).ConfigureAwait(false))
            {
                core.Metrics.Rejected.Add();
                response = buffers.RefuseAll(request.Requests.Count, LookupCore.ResourceExhausted, "",
                    $"overloaded: {gate.MaxConcurrent} requests running and {gate.MaxQueue} queued; retry later.");
            }
            else
            {
                try { response = core.BatchStreamMessage(request, buffers); }
                finally { gate.Release(); }
            }
            await responseStream.WriteAsync(response, cancel).ConfigureAwait(false);
        }
    }

    private static Task<T> Run<T>(Func<T> call)
    {
        try
        {
            return Task.FromResult(call());
        }
        catch (RequestException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
    }
}
