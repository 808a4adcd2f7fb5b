using System.Net;
using Grpc.Core;
using RecsysEmbed.Client;
using RecsysEmbed.Serving.Metrics;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Protos;
using RecsysEmbed.Serving.Service;

namespace RecsysEmbed.Tests.Serving;

/// <summary>The LookupStream RPC over loopback: same vectors as unary Lookup, in order; errors, auth, overload, deadlines, metrics.</summary>
public sealed class LookupStreamTests(TrainedModelFixture fixture) : IClassFixture<TrainedModelFixture>
{
    private Task<RunningService> Start(LookupServiceOptions? options = null, string? clientKey = null) => RunningService.Start(fixture, options, clientKey);

    private LookupRequest LineRequest(int line, LookupMode mode = LookupMode.Pooled, int features = 26)
    {
        var raw = fixture.RawCategoricals(line);
        return RecsysEmbedClient.Request(mode, Enumerable.Range(1, features).Select(i => ($"C{i}", raw[i - 1].Length > 0 ? new[] { raw[i - 1] } : Array.Empty<string>())).ToArray());
    }

    /// <summary>Requests of varying shapes (all 26 features pooled, a prefix, per value with two values) so reused buffers must shrink and grow.</summary>
    private LookupRequest Mixed(int i) => (i % 3) switch
    {
        0 => LineRequest(300 + i),
        1 => LineRequest(300 + i, features: 1 + i % 26),
        _ => RecsysEmbedClient.Request(LookupMode.PerValue, ("C6", [fixture.RawCategoricals(i)[5], fixture.RawCategoricals(i + 1)[5]]), ("C2", [fixture.RawCategoricals(i)[1]])),
    };

    [Fact]
    public async Task Stream_lookups_return_the_same_vectors_as_unary_lookups_in_order()
    {
        await using var run = await Start();
        const int messages = 60;
        var expected = new List<LookupResponse>();
        for (int i = 0; i < messages; i++) expected.Add(await run.Client.LookupAsync(Mixed(i)));

        await using (var stream = run.Client.OpenLookupStream())
        {
            for (int i = 0; i < messages; i++)
            {
                var response = await stream.LookupAsync(Mixed(i));
                Assert.Null(response.Error);
                Assert.Equal(expected[i], response); // vectors, names, dims and row version
            }
            Assert.Equal(1, stream.Opened);
        }
        // Sanity: the first message really carries the 26 trained vectors.
        Assert.Equal(26, expected[0].Features.Count);
        Assert.All(expected[0].Features, f => Assert.Equal(f.Dim, f.Values.Count));

        string metrics = await run.Http.GetStringAsync("/metrics");
        Assert.Contains($"recsys_requests_total{{method=\"LookupStream\",code=\"OK\"}} {messages}", metrics);
        Assert.Contains($"recsys_request_seconds_count{{method=\"LookupStream\"}} {messages}", metrics);
        Assert.Contains($"recsys_requests_total{{method=\"Lookup\",code=\"OK\"}} {messages}", metrics);
        Assert.Contains("recsys_lookup_streams_total 1", metrics);
    }

    [Fact]
    public async Task A_bad_request_on_the_stream_is_refused_naming_the_field_and_the_stream_goes_on()
    {
        await using var run = await Start(new LookupServiceOptions { MaxValuesPerFeature = 4 });
        await using var stream = run.Client.OpenLookupStream();
        Assert.Equal(await run.Client.LookupAsync(LineRequest(0)), await stream.LookupAsync(LineRequest(0)));

        // The client throws what a unary call would: INVALID_ARGUMENT with the same detail.
        var unary = await Assert.ThrowsAsync<RpcException>(() => run.Client.LookupAsync(RecsysEmbedClient.Request(("C99", ["x"]))));
        var unknown = await Assert.ThrowsAsync<RpcException>(() => stream.LookupAsync(RecsysEmbedClient.Request(("C99", ["x"]))));
        Assert.Equal(StatusCode.InvalidArgument, unknown.StatusCode);
        Assert.StartsWith("features[0].name: ", unknown.Status.Detail);
        Assert.Contains("C99", unknown.Status.Detail);
        Assert.Equal(unary.Status.Detail, unknown.Status.Detail);

        var tooMany = await Assert.ThrowsAsync<RpcException>(() => stream.LookupAsync(RecsysEmbedClient.Request(("C1", ["a"]), ("C5", ["a", "b", "c", "d", "e"]))));
        Assert.Equal(StatusCode.InvalidArgument, tooMany.StatusCode);
        Assert.StartsWith("features[1].values: ", tooMany.Status.Detail);
        Assert.Contains("at most 4", tooMany.Status.Detail);

        // Same stream, still answering, in order.
        Assert.Equal(await run.Client.LookupAsync(LineRequest(1)), await stream.LookupAsync(LineRequest(1)));
        Assert.Equal(1, stream.Opened);

        // On the wire: one response per request, with the error set and no vectors.
        using var raw = run.Client.Raw.LookupStream();
        await raw.RequestStream.WriteAsync(RecsysEmbedClient.Request(("C1", ["a"]), ("C1", ["b"])));
        Assert.True(await raw.ResponseStream.MoveNext());
        var refused = raw.ResponseStream.Current;
        Assert.Empty(refused.Features);
        Assert.Equal((int)StatusCode.InvalidArgument, refused.Error.Code);
        Assert.Equal("features[1].name", refused.Error.Field);
        Assert.Contains("listed twice", refused.Error.Message);
        await raw.RequestStream.WriteAsync(LineRequest(2));
        Assert.True(await raw.ResponseStream.MoveNext());
        Assert.Null(raw.ResponseStream.Current.Error);
        Assert.Equal(26, raw.ResponseStream.Current.Features.Count);
        await raw.RequestStream.CompleteAsync();
        Assert.False(await raw.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.OK, raw.GetStatus().StatusCode);

        string metrics = await run.Http.GetStringAsync("/metrics");
        Assert.Contains("recsys_requests_total{method=\"LookupStream\",code=\"INVALID_ARGUMENT\"} 3", metrics);
        Assert.Contains("recsys_requests_total{method=\"LookupStream\",code=\"OK\"} 3", metrics);
    }

    [Fact]
    public async Task Without_the_api_key_the_stream_is_unauthenticated()
    {
        await using var run = await Start(new LookupServiceOptions { ApiKey = "s3cret" });
        await using (var stream = run.Client.OpenLookupStream())
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => stream.LookupAsync(LineRequest(0)));
            Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
            // Each later lookup opens a new stream and is refused again.
            Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => stream.LookupAsync(LineRequest(0)))).StatusCode);
            Assert.Equal(2, stream.Opened);
        }
        using var wrong = run.ClientWithKey("nope");
        await using (var stream = wrong.OpenLookupStream())
            Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => stream.LookupAsync(LineRequest(0)))).StatusCode);
        Assert.Equal(3, run.Server.Core.Metrics.Unauthenticated.Value);
        Assert.Equal(0, run.Server.Core.Metrics.Streams.Value); // refused before the service saw them

        using var keyed = run.ClientWithKey("s3cret");
        await using (var stream = keyed.OpenLookupStream())
        {
            Assert.Equal(await keyed.LookupAsync(LineRequest(0)), await stream.LookupAsync(LineRequest(0)));
            Assert.Equal(await keyed.LookupAsync(LineRequest(1)), await stream.LookupAsync(LineRequest(1)));
        }
        Assert.Equal(1, run.Server.Core.Metrics.Streams.Value);
    }

    [Fact]
    public async Task Overload_refuses_one_stream_message_with_resource_exhausted_and_an_idle_stream_holds_no_slot()
    {
        await using var run = await Start(new LookupServiceOptions { MaxConcurrent = 1, MaxQueue = 0 });
        await using var stream = run.Client.OpenLookupStream();
        Assert.Equal(26, (await stream.LookupAsync(LineRequest(0))).Features.Count);
        // The open stream holds no slot between messages: a unary call gets the only one.
        Assert.Equal(0, run.Server.Gate.Active);
        Assert.Equal(26, (await run.Client.LookupAsync(LineRequest(1))).Features.Count);

        // Hold the only slot through the gate itself (no timing involved): the next message is refused, not queued.
        Assert.True(await run.Server.Gate.EnterAsync());
        var e = await Assert.ThrowsAsync<RpcException>(() => stream.LookupAsync(LineRequest(2)));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("overloaded", e.Status.Detail);
        Assert.Equal(1, run.Server.Core.Metrics.Rejected.Value);

        run.Server.Gate.Release();
        Assert.Equal(await run.Client.LookupAsync(LineRequest(2)), await stream.LookupAsync(LineRequest(2)));
        Assert.Equal(1, stream.Opened);
    }

    [Fact]
    public async Task A_message_past_its_deadline_abandons_the_stream_and_the_next_lookup_opens_a_new_one()
    {
        await using var run = await Start(new LookupServiceOptions { MaxConcurrent = 1, MaxQueue = 1 });
        await using var stream = run.Client.OpenLookupStream(deadline: TimeSpan.FromSeconds(30));
        Assert.Equal(TimeSpan.FromSeconds(30), stream.Deadline);
        Assert.Equal(26, (await stream.LookupAsync(LineRequest(0))).Features.Count);

        // The only slot is held, so the message waits in the queue and can never be answered within its deadline.
        Assert.True(await run.Server.Gate.EnterAsync());
        var e = await Assert.ThrowsAsync<RpcException>(() => stream.LookupAsync(LineRequest(1), TimeSpan.FromMilliseconds(300)));
        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        run.Server.Gate.Release();

        // Caller-side cancellation ends a lookup the same way (here before it is sent).
        using (var cancelled = new CancellationTokenSource())
        {
            await cancelled.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stream.LookupAsync(LineRequest(1), cancelled.Token));
        }

        Assert.Equal(await run.Client.LookupAsync(LineRequest(1)), await stream.LookupAsync(LineRequest(1)));
        Assert.Equal(2, stream.Opened);
    }

    [Fact]
    public async Task One_stream_object_takes_one_request_at_a_time()
    {
        await using var run = await Start(new LookupServiceOptions { MaxConcurrent = 1, MaxQueue = 1 });
        await using var stream = run.Client.OpenLookupStream();
        Assert.Equal(26, (await stream.LookupAsync(LineRequest(0))).Features.Count);
        Assert.True(await run.Server.Gate.EnterAsync()); // the first lookup below waits in the server's queue
        var first = stream.LookupAsync(LineRequest(1));
        await Assert.ThrowsAsync<InvalidOperationException>(() => stream.LookupAsync(LineRequest(2)));
        run.Server.Gate.Release();
        Assert.Equal(await run.Client.LookupAsync(LineRequest(1)), await first);
        Assert.Equal(1, stream.Opened);
    }
}
