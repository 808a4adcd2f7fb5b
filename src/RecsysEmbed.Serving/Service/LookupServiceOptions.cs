using System.Net;

namespace RecsysEmbed.Serving.Service;

/// <summary>Network, admission and request limits of the lookup service.</summary>
public sealed record LookupServiceOptions
{
    /// <summary>Address to bind; loopback unless told otherwise.</summary>
    public IPAddress Bind { get; init; } = IPAddress.Loopback;
    /// <summary>Port for gRPC (cleartext HTTP/2, prior knowledge); 0 picks a free one.</summary>
    public int Port { get; init; }
    /// <summary>
    /// Port for HTTP/JSON over HTTP/1.1 (cleartext Kestrel cannot offer HTTP/1.1 and HTTP/2 on one port); null:
    /// Port + 1, or a free one when Port is 0.
    /// </summary>
    public int? HttpPort { get; init; }
    /// <summary>When set, every call but /health must carry it (x-api-key header or gRPC metadata, or "Authorization: Bearer").</summary>
    public string? ApiKey { get; init; }
    /// <summary>Requests executing at once; more wait in the queue.</summary>
    public int MaxConcurrent { get; init; } = Math.Max(2, Environment.ProcessorCount * 2);
    /// <summary>Requests waiting for a slot; beyond it a request is refused with RESOURCE_EXHAUSTED / 429.</summary>
    public int MaxQueue { get; init; } = 256;
    public int MaxValuesPerFeature { get; init; } = 256;
    public int MaxFeaturesPerRequest { get; init; } = 1024;
    /// <summary>Requests in one BatchLookup, examples in one Score.</summary>
    public int MaxBatch { get; init; } = 1024;
    public long MaxRequestBytes { get; init; } = 4L << 20;
    /// <summary>Rows may be newer than the dense model by at most this many versions (reported by ModelInfo).</summary>
    public long StalenessBound { get; init; } = 1000;
    /// <summary>
    /// Run request handling on the socket I/O threads (Kestrel's UnsafePreferInlineScheduling) instead of handing each
    /// read to the thread pool: fewer thread switches per call, which is most of a lookup's cost on a small machine.
    /// Every handler then runs where I/O is serviced, so a slow call (a large Score batch) delays other connections'
    /// I/O; pair it with DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 (serve --inline-io sets both).
    /// </summary>
    public bool InlineIo { get; init; }

    internal void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(Port), Port, $"--port: {Port} is not a port (0..65535).");
        if (HttpPort is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(HttpPort), HttpPort, $"--http-port: {HttpPort} is not a port (0..65535).");
        if (MaxConcurrent < 1) throw new ArgumentOutOfRangeException(nameof(MaxConcurrent), MaxConcurrent, $"--max-concurrent: {MaxConcurrent} must be >= 1.");
        if (MaxQueue < 0) throw new ArgumentOutOfRangeException(nameof(MaxQueue), MaxQueue, $"--max-queue: {MaxQueue} must be >= 0.");
        if (MaxValuesPerFeature < 1) throw new ArgumentOutOfRangeException(nameof(MaxValuesPerFeature), MaxValuesPerFeature, $"--max-values: {MaxValuesPerFeature} must be >= 1.");
    }
}
