using System.Net;
using System.Net.Http.Json;
using System.Text;
using Grpc.Core;
using RecsysEmbed.Client;
using RecsysEmbed.Serving.Metrics;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Protos;
using RecsysEmbed.Serving.Service;

namespace RecsysEmbed.Tests.Serving;

/// <summary>The service over loopback gRPC and HTTP/JSON: values, errors, auth, overload, deadlines, metrics.</summary>
public sealed class LookupServiceTests(TrainedModelFixture fixture) : IClassFixture<TrainedModelFixture>
{
    private Task<RunningService> Start(LookupServiceOptions? options = null, string? clientKey = null) => RunningService.Start(fixture, options, clientKey, scorer: true);

    private LookupRequest LineRequest(int line, LookupMode mode = LookupMode.Pooled)
    {
        var raw = fixture.RawCategoricals(line);
        return RecsysEmbedClient.Request(mode, Enumerable.Range(1, 26).Select(i => ($"C{i}", raw[i - 1].Length > 0 ? new[] { raw[i - 1] } : Array.Empty<string>())).ToArray());
    }

    [Fact]
    public async Task Grpc_and_http_lookups_return_the_trained_vectors()
    {
        await using var run = await Start();
        var (expected, _, _, width) = fixture.Reference(100, 16);
        var model = run.Store.Model;
        for (int i = 0; i < 16; i++)
        {
            var response = await run.Client.LookupAsync(LineRequest(100 + i));
            Assert.Equal(26, response.Features.Count);
            foreach (var fv in response.Features)
            {
                var binding = model.Feature(fv.Name)!;
                Assert.Equal(binding.OutputDim, fv.Dim);
                Assert.Equal(expected.AsSpan(i * width + binding.Column, binding.OutputDim).ToArray(), fv.Values.ToArray());
            }
            // The same request as JSON over HTTP/1.1 gives the same vectors.
            var json = Google.Protobuf.JsonFormatter.Default.Format(LineRequest(100 + i));
            var http = await run.Http.PostAsync("/v1/lookup", new StringContent(json, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, http.StatusCode);
            var parsed = Google.Protobuf.JsonParser.Default.Parse<LookupResponse>(await http.Content.ReadAsStringAsync());
            Assert.Equal(response, parsed);
        }
    }

    [Fact]
    public async Task Per_value_and_batch_lookups_return_one_vector_per_value_and_per_request()
    {
        await using var run = await Start();
        var raw0 = fixture.RawCategoricals(0);
        var raw1 = fixture.RawCategoricals(1);
        var single = await run.Client.LookupAsync(RecsysEmbedClient.Request(("C6", [raw0[5]])));
        var two = await run.Client.LookupAsync(RecsysEmbedClient.Request(LookupMode.PerValue, ("C6", [raw0[5], raw1[5]])));
        var second = await run.Client.LookupAsync(RecsysEmbedClient.Request(("C6", [raw1[5]])));
        Assert.Equal(16, single.Features[0].Dim); // two chunks of 8
        Assert.Equal(single.Features[0].Values.Concat(second.Features[0].Values), two.Features[0].Values);
        var batch = new BatchLookupRequest();
        batch.Requests.Add(LineRequest(0));
        batch.Requests.Add(LineRequest(1));
        var responses = await run.Client.BatchLookupAsync(batch);
        Assert.Equal(await run.Client.LookupAsync(LineRequest(0)), responses.Responses[0]);
        Assert.Equal(await run.Client.LookupAsync(LineRequest(1)), responses.Responses[1]);
    }

    [Fact]
    public async Task Score_equals_the_trained_models_prediction_and_names_its_dense_version()
    {
        await using var run = await Start();
        var (_, predictions, dense, _) = fixture.Reference(200, 8);
        var request = new ScoreRequest();
        for (int i = 0; i < 8; i++)
        {
            var example = new ScoreExample();
            example.Features.Add(LineRequest(200 + i).Features);
            example.Dense.Add(dense.AsSpan(i * 13, 13).ToArray());
            request.Examples.Add(example);
        }
        var response = await run.Client.ScoreAsync(request);
        Assert.Equal(fixture.OpenCheckpoint().Step, response.DenseModelVersion);
        for (int i = 0; i < 8; i++) Assert.Equal(predictions[i], response.Probabilities[i], 1e-6f);
    }

    [Fact]
    public async Task Bad_requests_are_refused_naming_the_field()
    {
        await using var run = await Start(new LookupServiceOptions { MaxValuesPerFeature = 4 });
        async Task<RpcException> Refused(Func<Task> call) => await Assert.ThrowsAsync<RpcException>(call);

        var unknown = await Refused(() => run.Client.LookupAsync(RecsysEmbedClient.Request(("C99", ["x"]))));
        Assert.Equal(StatusCode.InvalidArgument, unknown.StatusCode);
        Assert.Contains("features[0].name", unknown.Status.Detail);
        Assert.Contains("C99", unknown.Status.Detail);

        var tooMany = await Refused(() => run.Client.LookupAsync(RecsysEmbedClient.Request(("C5", ["a", "b", "c", "d", "e"]))));
        Assert.Contains("features[0].values", tooMany.Status.Detail);
        Assert.Contains("at most 4", tooMany.Status.Detail);

        var missing = new ScoreRequest();
        var example = new ScoreExample();
        example.Features.Add(LineRequest(0).Features.Where(f => f.Name != "C7"));
        example.Dense.Add(new float[13]);
        missing.Examples.Add(example);
        var missingError = await Refused(() => run.Client.ScoreAsync(missing));
        Assert.Contains("missing required feature 'C7'", missingError.Status.Detail);

        var wrongDense = new ScoreRequest();
        var bad = new ScoreExample();
        bad.Features.Add(LineRequest(0).Features);
        bad.Dense.Add(new float[12]);
        wrongDense.Examples.Add(bad);
        var denseError = await Refused(() => run.Client.ScoreAsync(wrongDense));
        Assert.Contains("examples[0].dense", denseError.Status.Detail);
        Assert.Contains("12", denseError.Status.Detail);

        // HTTP: 400 with the field.
        var http = await run.Http.PostAsync("/v1/lookup", new StringContent("""{"features":[{"name":"C99","values":["x"]}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, http.StatusCode);
        Assert.Contains("features[0].name", await http.Content.ReadAsStringAsync());
        var malformed = await run.Http.PostAsync("/v1/lookup", new StringContent("{not json", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
    }

    [Fact]
    public async Task Api_key_is_required_when_configured()
    {
        var options = new LookupServiceOptions { ApiKey = "s3cret" };
        await using var run = await Start(options);
        var e = await Assert.ThrowsAsync<RpcException>(() => run.Client.LookupAsync(LineRequest(0)));
        Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await run.Http.GetAsync("/v1/model")).StatusCode);
        using var wrong = run.ClientWithKey("nope");
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => wrong.ModelInfoAsync())).StatusCode);
        // Health stays open for probes; the right key gets through.
        Assert.Equal(HttpStatusCode.OK, (await run.Http.GetAsync("/health")).StatusCode);
        using var keyed = run.ClientWithKey("s3cret");
        Assert.Equal(26, (await keyed.LookupAsync(LineRequest(0))).Features.Count);
        run.Http.DefaultRequestHeaders.Add("x-api-key", "s3cret");
        Assert.Equal(HttpStatusCode.OK, (await run.Http.GetAsync("/v1/model")).StatusCode);
        Assert.Equal(3, run.Server.Core.Metrics.Unauthenticated.Value); // gRPC without key, HTTP without key, gRPC wrong key
    }

    [Fact]
    public async Task Overload_beyond_the_queue_is_refused_with_resource_exhausted_and_429()
    {
        var options = new LookupServiceOptions { MaxConcurrent = 2, MaxQueue = 1 };
        await using var run = await Start(options);
        // Hold both slots and the one queue place through the gate itself: no timing involved.
        Assert.True(await run.Server.Gate.EnterAsync());
        Assert.True(await run.Server.Gate.EnterAsync());
        var queued = run.Server.Gate.EnterAsync().AsTask();
        Assert.False(queued.IsCompleted);
        Assert.Equal(1, run.Server.Gate.Queued);

        var e = await Assert.ThrowsAsync<RpcException>(() => run.Client.LookupAsync(LineRequest(0)));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        var json = Google.Protobuf.JsonFormatter.Default.Format(LineRequest(0));
        var http = await run.Http.PostAsync("/v1/lookup", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal((HttpStatusCode)429, http.StatusCode);
        Assert.Equal(2, run.Server.Core.Metrics.Rejected.Value);

        // A queued request waits for a slot (here it never gets one, so the client's deadline ends it).
        run.Server.Gate.Release();           // the queued holder takes the freed slot
        Assert.True(await queued);
        var waiting = run.Client.LookupAsync(LineRequest(0), deadline: TimeSpan.FromMilliseconds(300));
        var deadline = await Assert.ThrowsAsync<RpcException>(() => waiting);
        Assert.Equal(StatusCode.DeadlineExceeded, deadline.StatusCode);

        run.Server.Gate.Release();
        run.Server.Gate.Release();
        Assert.Equal(26, (await run.Client.LookupAsync(LineRequest(0))).Features.Count);
    }

    [Fact]
    public async Task Model_info_health_and_metrics_describe_the_service()
    {
        await using var run = await Start();
        var info = await run.Client.ModelInfoAsync();
        Assert.Equal("serving-tiny", info.Model);
        Assert.Equal(26, info.Features.Count);
        Assert.Equal("qr", info.Features.Single(f => f.Name == "C2").Family);
        Assert.Equal("mean", info.Features.Single(f => f.Name == "C2").Pooling);
        Assert.Equal(13, info.DenseFeatures);
        Assert.Equal("serving", (await run.Client.HealthAsync()).Status);
        await run.Client.LookupAsync(LineRequest(0));
        string metrics = await run.Http.GetStringAsync("/metrics");
        Assert.Contains("recsys_requests_total{method=\"Lookup\",code=\"OK\"} 1", metrics);
        Assert.Contains("recsys_request_seconds_bucket{method=\"Lookup\",le=\"+Inf\"} 1", metrics);
        Assert.Matches(@"recsys_rows_served_total \d+", metrics);
    }
}
