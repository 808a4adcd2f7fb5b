using Google.Protobuf;
using RecsysEmbed.Serving.Protos;

namespace RecsysEmbed.Client;

/// <summary>
/// Builds lookups in the compact form (<see cref="CompactFeatures"/>): features by their position in the model and
/// raw values as UTF-8 bytes in one block, refilled in place, so a high-rate caller allocates nothing per request once
/// warm and the service parses a few fields instead of two strings per feature. One builder per caller:
/// <see cref="Request"/> is the same object after every <see cref="Clear"/>, and its bytes are the builder's own
/// buffer, so do not clear it again until the call that sent it has completed.
/// <code>
///   var builder = new CompactRequestBuilder(await client.ModelInfoAsync(), packed: true);
///   int c1 = builder.PositionOf("C1");
///   var response = await multiplexer.LookupAsync(builder.Clear().Add(c1, "68fd1e64").Build());
/// </code>
/// </summary>
public sealed class CompactRequestBuilder
{
    private readonly Dictionary<string, int> _positions = new(StringComparer.Ordinal);
    private readonly CompactFeatures _compact = new();
    private byte[] _bytes = new byte[256];
    private int _used;

    /// <summary>For the model <paramref name="info"/> describes (feature positions are its feature list's order).</summary>
    public CompactRequestBuilder(ModelInfoResponse info, bool packed = true, LookupMode mode = LookupMode.Pooled)
        : this(info.Features.Select(f => f.Name), packed, mode) { }

    /// <summary>For a model whose features, in ModelInfo order, are <paramref name="featureNames"/>.</summary>
    public CompactRequestBuilder(IEnumerable<string> featureNames, bool packed = true, LookupMode mode = LookupMode.Pooled)
    {
        foreach (var name in featureNames) _positions.TryAdd(name, _positions.Count);
        Request = new LookupRequest { Packed = packed, Mode = mode, Compact = _compact };
    }

    /// <summary>The request being built (the same object for the builder's lifetime).</summary>
    public LookupRequest Request { get; }

    /// <summary>The position the service knows <paramref name="feature"/> by.</summary>
    public int PositionOf(string feature) => _positions.TryGetValue(feature, out int p) ? p
        : throw new ArgumentException($"the model has no feature '{feature}'; it serves {string.Join(", ", _positions.Keys)}.", nameof(feature));

    /// <summary>Starts a new request.</summary>
    public CompactRequestBuilder Clear()
    {
        _compact.Features.Clear();
        _compact.Counts.Clear();
        _compact.Lengths.Clear();
        _compact.Weights.Clear();
        _used = 0;
        return this;
    }

    /// <summary>Starts the next feature (by model position); its values follow with <see cref="AddValue"/>.</summary>
    public CompactRequestBuilder BeginFeature(int position)
    {
        _compact.Features.Add(position);
        _compact.Counts.Add(0);
        return this;
    }

    /// <summary>Adds one raw value to the feature begun last.</summary>
    public CompactRequestBuilder AddValue(ReadOnlySpan<char> value)
    {
        int last = _compact.Counts.Count - 1;
        if (last < 0) throw new InvalidOperationException("AddValue before any BeginFeature: start a feature first.");
        Append(value);
        _compact.Counts[last]++;
        return this;
    }

    /// <summary>One feature with one value.</summary>
    public CompactRequestBuilder Add(int position, ReadOnlySpan<char> value)
    {
        _compact.Features.Add(position);
        _compact.Counts.Add(1);
        Append(value);
        return this;
    }

    private void Append(ReadOnlySpan<char> value)
    {
        // Room for the worst case (3 bytes per UTF-16 unit), so the encoder never runs out of space. A lone surrogate
        // becomes U+FFFD, as Encoding.UTF8 (and so the service's hashing of a named request's string) makes it.
        if (_bytes.Length - _used < value.Length * 3) Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _used + value.Length * 3));
        var status = System.Text.Unicode.Utf8.FromUtf16(value, _bytes.AsSpan(_used), out _, out int n);
        System.Diagnostics.Debug.Assert(status == System.Buffers.OperationStatus.Done);
        _used += n;
        _compact.Lengths.Add(n);
    }

    /// <summary>One feature, by name, with its values.</summary>
    public CompactRequestBuilder Add(string feature, params ReadOnlySpan<string> values)
    {
        BeginFeature(PositionOf(feature));
        foreach (var v in values) AddValue(v);
        return this;
    }

    /// <summary>The request with its value bytes in place (wrapped, not copied).</summary>
    public LookupRequest Build()
    {
        _compact.Values = UnsafeByteOperations.UnsafeWrap(_bytes.AsMemory(0, _used));
        return Request;
    }
}
