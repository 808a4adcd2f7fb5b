using System.Text;
using Google.Protobuf;
using RecsysEmbed.Client;
using RecsysEmbed.Serving.Protos;

namespace RecsysEmbed.Tests.Serving;

/// <summary>
/// Compact requests (<see cref="CompactFeatures"/>, built by <see cref="CompactRequestBuilder"/>): the same answers
/// as the named form on every path (unary, stream, multiplexed, batch), the same ids for the same raw bytes, and every
/// inconsistency refused naming its field.
/// </summary>
public sealed class CompactRequestTests(TrainedModelFixture fixture) : IClassFixture<TrainedModelFixture>
{
    private Task<RunningService> Start() => RunningService.Start(fixture);

    /// <summary>Named and compact forms of one request: features in an order of its own, some with several values or none.</summary>
    private (LookupRequest Named, Action<CompactRequestBuilder> Fill) Pair(int line, LookupMode mode)
    {
        var raw = fixture.RawCategoricals(line);
        var other = fixture.RawCategoricals(line + 1);
        var features = new List<(string Name, string[] Values)>();
        for (int i = 26 - line % 5; i >= 1; i -= 1 + line % 3)
        {
            string name = $"C{i}";
            string[] values = (i % 4) switch
            {
                0 => [raw[i - 1], other[i - 1]],
                1 => raw[i - 1].Length > 0 ? [raw[i - 1]] : [],
                2 => [],
                _ => [raw[i - 1] + "é", "∑" + other[i - 1]], // non-ASCII: UTF-8 bytes on the wire, hashed as the string is
            };
            features.Add((name, values));
        }
        var named = RecsysEmbedClient.Request(mode, features.ToArray());
        return (named, builder =>
        {
            builder.Clear();
            foreach (var (name, values) in features) builder.Add(name, values);
        });
    }

    private static void AssertSameAnswer(LookupResponse expected, LookupResponse actual)
    {
        Assert.Null(actual.Error);
        Assert.Equal(expected.MaxRowVersion, actual.MaxRowVersion);
        Assert.Equal(expected.Features.Select(f => f.Name), actual.Features.Select(f => f.Name));
        Assert.Equal(expected.Features.Select(f => f.Dim), actual.Features.Select(f => f.Dim));
        Assert.Equal(expected.Features.Select(f => f.Values.ToArray()), actual.Features.Select(f => f.Values.ToArray()));
    }

    [Theory]
    [InlineData(LookupMode.Pooled)]
    [InlineData(LookupMode.PerValue)]
    public async Task Compact_requests_get_exactly_the_answers_of_named_requests_on_every_path(LookupMode mode)
    {
        await using var run = await Start();
        var info = await run.Client.ModelInfoAsync();
        var builder = new CompactRequestBuilder(info, packed: false, mode);
        Assert.Same(builder.Request, builder.Clear().Build()); // one request object, refilled
        await using var stream = run.Client.OpenLookupStream();
        await using var mux = run.Client.OpenLookupMultiplexer();
        for (int line = 0; line < 12; line++)
        {
            var (named, fill) = Pair(line, mode);
            var expected = await run.Client.LookupAsync(named);
            Assert.NotEmpty(expected.Features);
            fill(builder);
            var compact = builder.Build();
            Assert.Empty(compact.Features);
            AssertSameAnswer(expected, await run.Client.LookupAsync(compact));
            AssertSameAnswer(expected, await stream.LookupAsync(compact));
            AssertSameAnswer(expected, await mux.LookupAsync(compact));
            var batch = await run.Client.BatchLookupAsync(new BatchLookupRequest { Requests = { compact, named } });
            AssertSameAnswer(expected, batch.Responses[0]);
            AssertSameAnswer(expected, batch.Responses[1]);
        }
    }

    [Fact]
    public async Task Packed_compact_answers_carry_the_named_answers_floats_and_weights_apply_alike()
    {
        await using var run = await Start();
        var builder = new CompactRequestBuilder(await run.Client.ModelInfoAsync(), packed: true);
        var raw = fixture.RawCategoricals(3);
        var other = fixture.RawCategoricals(4);
        var named = RecsysEmbedClient.Request(("C4", [raw[3], other[3]]), ("C1", [raw[0]]), ("C6", [raw[5], other[5], raw[6]]));
        named.Features[0].Weights.Add([0.25f, 2f]);
        named.Features[2].Weights.Add([1f, -0.5f, 3f]);
        var expected = await run.Client.LookupAsync(named);
        builder.Clear().Add("C4", raw[3], other[3]).Add("C1", raw[0]).Add("C6", raw[5], other[5], raw[6]);
        var compact = builder.Build();
        compact.Compact.Weights.Add([0.25f, 2f, 1f, 1f, -0.5f, 3f]);
        var packed = await run.Client.LookupAsync(compact);
        Assert.Equal(expected.Features.Select(f => f.Dim), packed.Dims);
        Assert.Equal(expected.Features.SelectMany(f => f.Values), System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(packed.Packed.Span).ToArray());
        compact.Compact.Weights.Clear(); // weights matter: without them the answer differs
        Assert.NotEqual(packed.Packed, (await run.Client.LookupAsync(compact)).Packed);
    }

    [Fact]
    public void The_id_of_a_values_utf8_bytes_is_the_id_of_the_string_for_every_feature()
    {
        using var store = new LoadedStore(fixture, load: false);
        string[] values = ["", "68fd1e64", "café", "∑x", new string('z', 300), fixture.RawCategoricals(0)[2]];
        foreach (var binding in store.Model.Features)
            foreach (var v in values)
                Assert.Equal(binding.IdOf(v), binding.IdOfUtf8(Encoding.UTF8.GetBytes(v)));
    }

    public static TheoryData<string, string, string> Malformed => new()
    {
        { "both", "compact", "both features and compact" },
        { "position", "compact.features[1]", "26 is not a feature position" },
        { "negative-position", "compact.features[0]", "-1 is not a feature position" },
        { "twice", "compact.features[1]", "listed twice" },
        { "counts", "compact.counts", "1 counts for 2 features" },
        { "negative-count", "compact.counts[0]", "-1 values" },
        { "too-many-values", "compact.counts[0]", "has 257 values" },
        { "few-lengths", "compact.lengths", "the counts need at least 2" },
        { "extra-lengths", "compact.lengths", "3 lengths for the counts' 2 values" },
        { "overlong", "compact.lengths[1]", "does not fit" },
        { "negative-length", "compact.lengths[0]", "-2 bytes does not fit" },
        { "left-over", "compact.values", "the lengths add up to 5" },
        { "utf8", "compact.values", "not valid UTF-8" },
        { "weights", "compact.weights", "1 weights for 2 values" },
        { "nan-weight", "compact.weights[1]", "NaN is not finite" },
    };

    /// <summary>Two features (positions 0 and 1, one value each, "ab" and "cde") broken one way per case.</summary>
    private static LookupRequest Broken(string how)
    {
        var c = new CompactFeatures { Features = { 0, 1 }, Counts = { 1, 1 }, Lengths = { 2, 3 }, Values = ByteString.CopyFromUtf8("abcde") };
        switch (how)
        {
            case "both": return new LookupRequest { Compact = c, Features = { new FeatureValues { Name = "C1", Values = { "x" } } } };
            case "position": c.Features[1] = 26; break;
            case "negative-position": c.Features[0] = -1; break;
            case "twice": c.Features[1] = 0; break;
            case "counts": c.Counts.RemoveAt(1); break;
            case "negative-count": c.Counts[0] = -1; break;
            case "too-many-values": c.Counts[0] = 257; break; // the default limit is 256
            case "few-lengths": c.Lengths.RemoveAt(1); break;
            case "extra-lengths": c.Lengths.Add(0); break;
            case "overlong": c.Lengths[1] = 4; break;
            case "negative-length": c.Lengths[0] = -2; break;
            case "left-over": c.Values = ByteString.CopyFromUtf8("abcdefg"); break;
            case "utf8": c.Values = ByteString.CopyFrom(0x61, 0x62, 0x63, 0xC3, 0x28); break;
            case "weights": c.Weights.Add(1f); break;
            case "nan-weight": c.Weights.Add([1f, float.NaN]); break;
            default: throw new ArgumentException(how);
        }
        return new LookupRequest { Compact = c };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task A_malformed_compact_request_is_refused_naming_the_field(string how, string field, string message)
    {
        await using var run = await Start();
        var request = Broken(how);
        var e = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => run.Client.LookupAsync(request));
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains(field, e.Status.Detail);
        Assert.Contains(message, e.Status.Detail);

        // On a stream the refusal names the field too, and the stream goes on.
        await using var stream = run.Client.OpenLookupStream();
        var refused = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => stream.LookupAsync(request));
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains(field, refused.Status.Detail);
        Assert.Contains(message, refused.Status.Detail);
        Assert.Equal(2, (await stream.LookupAsync(Valid())).Features.Count);
    }

    private static LookupRequest Valid() => new()
    {
        Compact = new CompactFeatures { Features = { 0, 1 }, Counts = { 1, 1 }, Lengths = { 2, 3 }, Values = ByteString.CopyFromUtf8("abcde") },
    };

    [Fact]
    public async Task In_a_batch_a_malformed_compact_request_names_its_position()
    {
        await using var run = await Start();
        var e = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => run.Client.BatchLookupAsync(new BatchLookupRequest { Requests = { Valid(), Broken("twice") } }));
        Assert.Contains("requests[1].compact.features[1]", e.Status.Detail);
        await using var mux = run.Client.OpenLookupMultiplexer();
        Assert.Equal(2, (await mux.LookupAsync(Valid())).Features.Count);
        var refused = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => mux.LookupAsync(Broken("utf8")));
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains(".compact.values", refused.Status.Detail);
    }

    [Fact]
    public void The_builder_names_an_unknown_feature_and_refuses_a_value_before_any_feature()
    {
        var builder = new CompactRequestBuilder(["C1", "C2"]);
        Assert.Equal(1, builder.PositionOf("C2"));
        Assert.Contains("'C9'", Assert.Throws<ArgumentException>(() => builder.PositionOf("C9")).Message);
        Assert.Throws<InvalidOperationException>(() => builder.Clear().AddValue("x"));
        Assert.Equal(new[] { "\uD800x" }.Select(v => Encoding.UTF8.GetBytes(v)).Single(),
                     builder.Clear().Add(0, "\uD800x").Build().Compact.Values.ToByteArray()); // a lone surrogate as Encoding.UTF8 writes it
        var request = builder.Clear().Add(1, "ü").Add("C1", "ab", "").Build();
        Assert.Equal([1, 0], request.Compact.Features);
        Assert.Equal([1, 2], request.Compact.Counts);
        Assert.Equal([2, 2, 0], request.Compact.Lengths);
        Assert.Equal("üab", request.Compact.Values.ToStringUtf8());
    }
}
