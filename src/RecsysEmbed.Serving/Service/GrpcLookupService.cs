using Grpc.Core;
using RecsysEmbed.Serving.Protos;

namespace RecsysEmbed.Serving.Service;

/// <summary>The gRPC face of <see cref="LookupCore"/>: a refused request becomes INVALID_ARGUMENT naming the field.</summary>
internal sealed class GrpcLookupService(LookupCore core) : EmbeddingLookup.EmbeddingLookupBase
{
    public override Task<LookupResponse> Lookup(LookupRequest request, ServerCallContext context) => Run(() => core.Lookup(request));
    public override Task<BatchLookupResponse> BatchLookup(BatchLookupRequest request, ServerCallContext context) => Run(() => core.BatchLookup(request));
    public override Task<ScoreResponse> Score(ScoreRequest request, ServerCallContext context) => Run(() => core.Score(request));
    public override Task<ModelInfoResponse> ModelInfo(ModelInfoRequest request, ServerCallContext context) => Run(core.ModelInfo);
    public override Task<HealthResponse> Health(HealthRequest request, ServerCallContext context) => Run(core.Health);

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
