using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RecsysEmbed.RoundTripFloor;

// One caller, one message in flight, as `loadtest --concurrency 1` drives the service and Redis.
//   grpc-server PORT REPLY_BYTES            Kestrel gRPC echo on 127.0.0.1 (inline scheduling, as `serve --inline-io`)
//   grpc-client PORT REQUEST_BYTES SECONDS stream|unary
//   tcp-server  PORT REPLY_BYTES            blocking TCP socket: read a length-prefixed message, write the reply
//   tcp-client  PORT REQUEST_BYTES REPLY_BYTES SECONDS
// Both gRPC sides complete socket I/O inline (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1), as `--inline-io` does.
Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
int port = int.Parse(args[1]);
switch (args[0])
{
    case "grpc-server": GrpcServer(port, int.Parse(args[2])); break;
    case "grpc-client": await GrpcClient(port, int.Parse(args[2]), double.Parse(args[3]), args[4]); break;
    case "tcp-server": TcpServer(port, int.Parse(args[2])); break;
    case "tcp-client": TcpClient(port, int.Parse(args[2]), int.Parse(args[3]), double.Parse(args[4])); break;
    default: throw new ArgumentException($"unknown mode '{args[0]}'");
}

static void GrpcServer(int port, int replyBytes)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.Services.AddGrpc();
    builder.Services.AddSingleton(new EchoService(replyBytes));
    builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http2));
    builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
    var app = builder.Build();
    app.MapGrpcService<EchoService>();
    Console.WriteLine("listening");
    app.Run();
}

static async Task GrpcClient(int port, int requestBytes, double seconds, string mode)
{
    using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
    var client = new Echo.EchoClient(channel);
    var request = new Blob { Data = ByteString.CopyFrom(new byte[requestBytes]) };
    var latency = new RoundTrips();
    await Run(1, new RoundTrips()); // warm-up: connection, JIT
    var wall = await Run(seconds, latency);
    latency.Report($"grpc-{mode}", wall);

    async Task<double> Run(double duration, RoundTrips into)
    {
        var clock = Stopwatch.StartNew();
        if (mode == "stream")
        {
            using var call = client.Stream();
            while (clock.Elapsed.TotalSeconds < duration)
            {
                long start = Stopwatch.GetTimestamp();
                await call.RequestStream.WriteAsync(request);
                if (!await call.ResponseStream.MoveNext(CancellationToken.None)) throw new InvalidOperationException("the echo stream ended early");
                into.Add(start);
            }
            await call.RequestStream.CompleteAsync();
        }
        else if (mode == "unary")
        {
            while (clock.Elapsed.TotalSeconds < duration)
            {
                long start = Stopwatch.GetTimestamp();
                await client.UnaryAsync(request);
                into.Add(start);
            }
        }
        else throw new ArgumentException($"unknown gRPC mode '{mode}' (stream or unary)");
        return clock.Elapsed.TotalSeconds;
    }
}

static void TcpServer(int port, int replyBytes)
{
    using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
    listener.Listen(1);
    Console.WriteLine("listening");
    using var socket = listener.Accept();
    socket.NoDelay = true;
    var header = new byte[4];
    var body = new byte[1 << 20];
    var reply = new byte[replyBytes];
    while (ReadExactly(socket, header, 4))
    {
        int length = BitConverter.ToInt32(header);
        if (!ReadExactly(socket, body, length)) break;
        socket.Send(reply);
    }
}

static void TcpClient(int port, int requestBytes, int replyBytes, double seconds)
{
    using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
    var message = new byte[4 + requestBytes];
    BitConverter.TryWriteBytes(message, requestBytes);
    var reply = new byte[replyBytes];
    var latency = new RoundTrips();
    var clock = Stopwatch.StartNew();
    while (clock.Elapsed.TotalSeconds < seconds)
    {
        long start = Stopwatch.GetTimestamp();
        socket.Send(message);
        if (!ReadExactly(socket, reply, replyBytes)) throw new InvalidOperationException("the server closed the connection");
        latency.Add(start);
    }
    latency.Report("tcp-blocking", clock.Elapsed.TotalSeconds);
}

static bool ReadExactly(Socket socket, byte[] buffer, int count)
{
    for (int got = 0; got < count;)
    {
        int n = socket.Receive(buffer, got, count - got, SocketFlags.None);
        if (n == 0) return false;
        got += n;
    }
    return true;
}

/// <summary>Round-trip times in microseconds; one line of calls/s and percentiles, in the loadtest's words.</summary>
sealed class RoundTrips
{
    private readonly List<double> _micros = new(1 << 20);

    public void Add(long startTimestamp) => _micros.Add(Stopwatch.GetElapsedTime(startTimestamp).TotalMicroseconds);

    public void Report(string label, double seconds)
    {
        _micros.Sort();
        double At(double q) => _micros[Math.Min(_micros.Count - 1, (int)(_micros.Count * q))];
        Console.WriteLine($"{label}: {_micros.Count / seconds:F0} calls/s, p50 {At(0.50):F1} us, p99 {At(0.99):F1} us, {_micros.Count} calls in {seconds:F1} s");
    }
}

sealed class EchoService(int replyBytes) : Echo.EchoBase
{
    private readonly Blob _reply = new() { Data = ByteString.CopyFrom(new byte[replyBytes]) };

    public override async Task Stream(IAsyncStreamReader<Blob> requests, IServerStreamWriter<Blob> replies, ServerCallContext context)
    {
        while (await requests.MoveNext()) await replies.WriteAsync(_reply);
    }

    public override Task<Blob> Unary(Blob request, ServerCallContext context) => Task.FromResult(_reply);
}
