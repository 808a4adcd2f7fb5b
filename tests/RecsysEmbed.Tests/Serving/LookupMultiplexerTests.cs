using System.Runtime.InteropServices;
using Grpc.Core;
using RecsysEmbed.Client;
using RecsysEmbed.Serving.Protos;
using RecsysEmbed.Serving.Service;

namespace RecsysEmbed.Tests.Serving;

/// <summary>
/// The BatchLookupStream RPC and the client's LookupMultiplexer over loopback: concurrent callers each get their own
/// vectors, refusals stay with their request, waiting lookups leave together, deadlines, overload, auth; and packed
/// answers carry exactly the vectors of the unpacked ones.
/// </summary>
public sealed class LookupMultiplexerTests(TrainedModelFixture fixture) : IClassFixture<TrainedModelFixture>
{
    private Task<RunningService> Start(LookupServiceOptions? options = null, string? clientKey = null) => RunningService.Start(fixture, options, clientKey);

    private LookupRequest LineRequest(int line, int features = 26, bool packed = false)
    {
        var raw = fixture.RawCategoricals(line);
        var request = RecsysEmbedClient.Request(LookupMode.Pooled, Enumerable.Range(1, features).Select(i => ($"C{i}", raw[i - 1].Length > 0 ? new[] { raw[i - 1] } : Array.Empty<string>())).ToArray());
        request.Packed = packed;
        return request;
    }

    /// <summary>Shapes that differ from caller to caller (all features, a prefix, per value), so a mix-up shows.</summary>
    private LookupRequest Mixed(int i) => (i % 3) switch
    {
        0 => LineRequest(400 + i),
        1 => LineRequest(400 + i, features: 1 + i % 26),
        _ => RecsysEmbedClient.Request(LookupMode.PerValue, ("C6", [fixture.RawCategoricals(i)[5], fixture.RawCategoricals(i + 1)[5]]), ("C2", [fixture.RawCategoricals(i)[1]])),
    };

    private static LookupMultiplexer Open(RunningService run, int inFlight = 1, TimeSpan? deadline = null, bool inline = false, int maxOutstanding = 65_536) =>
        run.Client.OpenLookupMultiplexer(new LookupMultiplexerOptions
        {
            Deadline = deadline ?? RunningService.ClientDeadline, MaxMessagesInFlight = inFlight, CompleteInline = inline, MaxOutstanding = maxOutstanding,
        });

    /// <summary>Also with the server handling requests on its socket I/O threads (serve --inline-io).</summary>
    [Theory]
    [InlineData(1, false, false)]
    [InlineData(3, true, true)]
    public async Task Concurrent_callers_each_get_the_vectors_a_unary_lookup_returns_for_their_own_request(int inFlight, bool inline, bool inlineIo)
    {
        await using var run = await Start(new LookupServiceOptions { InlineIo = inlineIo });
        const int callers = 12, perCaller = 15;
        var expected = new Dictionary<int, LookupResponse>();
        for (int i = 0; i < callers * perCaller; i++) expected[i] = await run.Client.LookupAsync(Mixed(i));

        await using var mux = Open(run, inFlight, inline: inline);
        var got = new LookupResponse[callers * perCaller];
        await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            for (int k = 0; k < perCaller; k++)
            {
                int i = c * perCaller + k;
                got[i] = await mux.LookupAsync(Mixed(i));
            }
        })));
        for (int i = 0; i < got.Length; i++) Assert.Equal(expected[i], got[i]);
        Assert.Equal(callers * perCaller, mux.Lookups);
        Assert.InRange(mux.Messages, 1, mux.Lookups);
        Assert.Equal(1, mux.Opened);

        string metrics = await run.Http.GetStringAsync("/metrics");
        Assert.Contains($"recsys_requests_total{{method=\"BatchLookupStream\",code=\"OK\"}} {callers * perCaller}", metrics);
        Assert.Contains("recsys_lookup_streams_total 1", metrics);
    }

    [Fact]
    public async Task A_pool_spreads_lookups_over_its_connections_in_turn_and_each_caller_gets_its_own_vectors()
    {
        await using var run = await Start();
        const int lookups = 40;
        var expected = new LookupResponse[lookups];
        for (int i = 0; i < lookups; i++) expected[i] = await run.Client.LookupAsync(Mixed(i));

        await using var pool = new LookupMultiplexerPool(run.Server.GrpcAddress, connections: 2,
            new RecsysEmbedClientOptions { DefaultDeadline = RunningService.ClientDeadline });
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], await pool.LookupAsync(Mixed(i))); // one after another: in turn
        Assert.All(pool.Multiplexers, m => Assert.Equal(2, m.Lookups));
        var got = await Task.WhenAll(Enumerable.Range(4, lookups - 4).Select(i => Task.Run(() => pool.LookupAsync(Mixed(i)))));
        for (int i = 4; i < lookups; i++) Assert.Equal(expected[i], got[i - 4]);
        Assert.Equal(lookups, pool.Lookups);
        Assert.Equal(2, run.Server.Core.Metrics.Streams.Value); // one stream per connection
        Assert.Throws<ArgumentOutOfRangeException>(() => new LookupMultiplexerPool(run.Server.GrpcAddress, connections: 0));
    }

    [Fact]
    public async Task Lookups_waiting_while_a_message_is_out_leave_together_in_the_next_message()
    {
        await using var run = await Start(new LookupServiceOptions { MaxConcurrent = 1, MaxQueue = 8 });
        await using var mux = Open(run, inFlight: 1);
        Assert.Equal(await run.Client.LookupAsync(LineRequest(0)), await mux.LookupAsync(LineRequest(0)));
        Assert.Equal(1, mux.Messages);

        // The only slot is held, so the next message waits in the service's queue and its answer cannot come back:
        // the five lookups after it must wait on the client (one message in flight at most), then leave as one message.
        Assert.True(await run.Server.Gate.EnterAsync());
        var first = mux.LookupAsync(LineRequest(1));
        var rest = Enumerable.Range(2, 5).Select(i => mux.LookupAsync(LineRequest(i))).ToArray();
        Assert.Equal(2, mux.Messages);
        Assert.Equal(2, mux.Lookups);
        Assert.All(rest, t => Assert.False(t.IsCompleted));
        run.Server.Gate.Release();

        Assert.Equal(await run.Client.LookupAsync(LineRequest(1)), await first);
        for (int i = 0; i < rest.Length; i++) Assert.Equal(await run.Client.LookupAsync(LineRequest(2 + i)), await rest[i]);
        Assert.Equal(3, mux.Messages);
        Assert.Equal(7, mux.Lookups);
    }

    [Fact]
    public async Task A_refused_request_fails_only_its_caller_naming_the_field_and_the_stream_goes_on()
    {
        await using var run = await Start(new LookupServiceOptions { MaxValuesPerFeature = 4, MaxConcurrent = 1, MaxQueue = 8, MaxBatch = 4 });
        await using var mux = Open(run);
        Assert.Equal(26, (await mux.LookupAsync(LineRequest(0))).Features.Count);

        // Hold the slot so that one good, one bad and one good lookup share a message.
        Assert.True(await run.Server.Gate.EnterAsync());
        var blocker = mux.LookupAsync(LineRequest(1));
        var good1 = mux.LookupAsync(LineRequest(2));
        var bad = mux.LookupAsync(RecsysEmbedClient.Request(("C1", ["a"]), ("C5", ["a", "b", "c", "d", "e"])));
        var good2 = mux.LookupAsync(LineRequest(3));
        run.Server.Gate.Release();

        var e = await Assert.ThrowsAsync<RpcException>(() => bad);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith("requests[1].features[1].values: ", e.Status.Detail); // its place in the message, then the field
        Assert.Contains("at most 4", e.Status.Detail);
        Assert.Equal(await run.Client.LookupAsync(LineRequest(1)), await blocker);
        Assert.Equal(await run.Client.LookupAsync(LineRequest(2)), await good1);
        Assert.Equal(await run.Client.LookupAsync(LineRequest(3)), await good2);
        Assert.Equal(3, mux.Messages);
        Assert.Equal(1, mux.Opened);

        // On the wire: a message over the service's max batch is refused whole, one error per request, and the stream goes on.
        using var raw = run.Client.Raw.BatchLookupStream();
        var tooMany = new BatchLookupRequest();
        for (int i = 0; i < 5; i++) tooMany.Requests.Add(LineRequest(i));
        await raw.RequestStream.WriteAsync(tooMany);
        Assert.True(await raw.ResponseStream.MoveNext());
        Assert.Equal(5, raw.ResponseStream.Current.Responses.Count);
        Assert.All(raw.ResponseStream.Current.Responses, r =>
        {
            Assert.Equal((int)StatusCode.InvalidArgument, r.Error.Code);
            Assert.Equal("requests", r.Error.Field);
            Assert.Contains("at most 4", r.Error.Message);
            Assert.Empty(r.Features);
        });
        var two = new BatchLookupRequest { Requests = { RecsysEmbedClient.Request(("C99", ["x"])), LineRequest(4) } };
        await raw.RequestStream.WriteAsync(two);
        Assert.True(await raw.ResponseStream.MoveNext());
        var answer = raw.ResponseStream.Current;
        Assert.Equal("requests[0].features[0].name", answer.Responses[0].Error.Field);
        Assert.Contains("C99", answer.Responses[0].Error.Message);
        Assert.Null(answer.Responses[1].Error);
        Assert.Equal(await run.Client.LookupAsync(LineRequest(4)), answer.Responses[1]);
        await raw.RequestStream.CompleteAsync();
        Assert.False(await raw.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.OK, raw.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Overload_refuses_a_whole_message_with_resource_exhausted_and_later_lookups_are_served()
    {
        await using var run = await Start(new LookupServiceOptions { MaxConcurrent = 1, MaxQueue = 0 });
        await using var mux = Open(run);
        Assert.Equal(26, (await mux.LookupAsync(LineRequest(0))).Features.Count);
        Assert.Equal(0, run.Server.Gate.Active); // an open stream holds no slot between messages

        Assert.True(await run.Server.Gate.EnterAsync());
        var e = await Assert.ThrowsAsync<RpcException>(() => mux.LookupAsync(LineRequest(1)));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("overloaded", e.Status.Detail);
        Assert.Equal(1, run.Server.Core.Metrics.Rejected.Value);
        run.Server.Gate.Release();

        Assert.Equal(await run.Client.LookupAsync(LineRequest(1)), await mux.LookupAsync(LineRequest(1)));
        Assert.Equal(1, mux.Opened);
    }

    [Fact]
    public async Task A_lookup_past_its_deadline_fails_alone_and_the_stream_keeps_matching_responses()
    {
        await using var run = await Start(new LookupServiceOptions { MaxConcurrent = 1, MaxQueue = 4 });
        await using var mux = Open(run, inFlight: 2);
        Assert.Equal(26, (await mux.LookupAsync(LineRequest(0))).Features.Count);

        Assert.True(await run.Server.Gate.EnterAsync());
        var e = await Assert.ThrowsAsync<RpcException>(() => mux.LookupAsync(LineRequest(1), TimeSpan.FromMilliseconds(300)));
        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        var later = mux.LookupAsync(LineRequest(2)); // sent behind the abandoned one, on the same stream
        using (var cancelled = new CancellationTokenSource())
        {
            await cancelled.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => mux.LookupAsync(LineRequest(3), cancelled.Token));
        }
        run.Server.Gate.Release();

        // The late answer to the abandoned lookup is discarded; the next one still gets its own vectors.
        Assert.Equal(await run.Client.LookupAsync(LineRequest(2)), await later);
        Assert.Equal(await run.Client.LookupAsync(LineRequest(4)), await mux.LookupAsync(LineRequest(4)));
        Assert.Equal(1, mux.Opened);
    }

    /// <summary>Lookups on the multiplexer's own deadline have no timer each: the sweeper fails them, sent or still queued.</summary>
    [Fact]
    public async Task Lookups_on_the_multiplexers_deadline_fail_past_it_whether_sent_or_still_queued()
    {
        await using var run = await Start(new LookupServiceOptions { MaxConcurrent = 1, MaxQueue = 4 });
        await using var mux = Open(run, inFlight: 1, deadline: TimeSpan.FromMilliseconds(300));
        Assert.True(await run.Server.Gate.EnterAsync()); // nothing is served until it is released
        var sent = mux.LookupAsync(LineRequest(1));
        var queued = mux.LookupAsync(LineRequest(2)); // waits for the one message slot
        Assert.Equal(StatusCode.DeadlineExceeded, (await Assert.ThrowsAsync<RpcException>(() => sent)).StatusCode);
        Assert.Equal(StatusCode.DeadlineExceeded, (await Assert.ThrowsAsync<RpcException>(() => queued)).StatusCode);
        run.Server.Gate.Release();

        // The late answer is discarded and the expired queued lookup never leaves; the stream goes on matching.
        Assert.Equal(await run.Client.LookupAsync(LineRequest(3)), await mux.LookupAsync(LineRequest(3), RunningService.ClientDeadline));
        Assert.Equal(await run.Client.LookupAsync(LineRequest(4)), await mux.LookupAsync(LineRequest(4), RunningService.ClientDeadline));
        Assert.Equal(1, mux.Opened);
        Assert.Equal(3, mux.Lookups); // 1, 3 and 4: the expired queued lookup was dropped before it was sent
    }

    [Fact]
    public async Task Outstanding_lookups_are_bounded_on_the_client()
    {
        await using var run = await Start(new LookupServiceOptions { MaxConcurrent = 1, MaxQueue = 4 });
        await using var mux = Open(run, maxOutstanding: 2);
        Assert.True(await run.Server.Gate.EnterAsync());
        var a = mux.LookupAsync(LineRequest(0));
        var b = mux.LookupAsync(LineRequest(1));
        var e = await Assert.ThrowsAsync<RpcException>(() => mux.LookupAsync(LineRequest(2)));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("MaxOutstanding", e.Status.Detail);
        run.Server.Gate.Release();
        Assert.Equal(26, (await a).Features.Count);
        Assert.Equal(26, (await b).Features.Count);
        Assert.Equal(26, (await mux.LookupAsync(LineRequest(2))).Features.Count);
    }

    [Fact]
    public async Task Without_the_api_key_every_lookup_is_unauthenticated_and_each_failure_opens_a_new_stream()
    {
        await using var run = await Start(new LookupServiceOptions { ApiKey = "s3cret" });
        await using (var mux = Open(run))
        {
            Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => mux.LookupAsync(LineRequest(0)))).StatusCode);
            Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => mux.LookupAsync(LineRequest(1)))).StatusCode);
            Assert.Equal(2, mux.Opened);
        }
        Assert.Equal(0, run.Server.Core.Metrics.Streams.Value); // refused before the service saw them

        using var keyed = run.ClientWithKey("s3cret");
        await using (var mux = keyed.OpenLookupMultiplexer())
            Assert.Equal(await keyed.LookupAsync(LineRequest(0)), await mux.LookupAsync(LineRequest(0)));
        Assert.Equal(1, run.Server.Core.Metrics.Streams.Value);
    }

    [Fact]
    public async Task A_stream_that_cannot_start_fails_the_waiting_lookups_and_the_next_ones_too_instead_of_hanging()
    {
        await using var run = await Start();
        var client = run.ClientWithKey(null);
        await using var mux = client.OpenLookupMultiplexer();
        client.Dispose(); // its channel is gone: starting the stream throws
        for (int i = 0; i < 2; i++)
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => mux.LookupAsync(LineRequest(i)));
            Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        }
        Assert.Equal(0, mux.Lookups);
    }

    [Fact]
    public async Task After_dispose_lookups_are_refused()
    {
        await using var run = await Start();
        var mux = Open(run);
        Assert.Equal(26, (await mux.LookupAsync(LineRequest(0))).Features.Count);
        await mux.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => mux.LookupAsync(LineRequest(1)));
    }

    /// <summary>Packed answers (unary, LookupStream, multiplexed): the same floats as the FeatureVectors, in request order.</summary>
    [Fact]
    public async Task Packed_answers_carry_exactly_the_vectors_of_unpacked_answers()
    {
        await using var run = await Start();
        await using var stream = run.Client.OpenLookupStream();
        await using var mux = Open(run);
        for (int i = 0; i < 9; i++)
        {
            var plain = Mixed(i);
            var expected = await run.Client.LookupAsync(plain);
            var packedRequest = plain.Clone();
            packedRequest.Packed = true;
            foreach (var packed in new[] { await run.Client.LookupAsync(packedRequest), await stream.LookupAsync(packedRequest), await mux.LookupAsync(packedRequest) })
            {
                Assert.Empty(packed.Features);
                Assert.Equal(expected.MaxRowVersion, packed.MaxRowVersion);
                Assert.Equal(expected.Features.Select(f => f.Dim), packed.Dims);
                var floats = MemoryMarshal.Cast<byte, float>(packed.Packed.Span).ToArray();
                Assert.Equal(expected.Features.SelectMany(f => f.Values), floats);
            }
        }
    }
}
