using System.CommandLine;
using System.Runtime.InteropServices;
using RecsysEmbed.Streaming.Broker;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// <c>recsys-embed kafka up [--brokers N] [--topic NAME:PARTITIONS ...]</c>: runs librdkafka's mock cluster in this
/// process on 127.0.0.1, creates the topics, prints the bootstrap address, and runs until Ctrl-C or SIGTERM.
/// </summary>
public static class KafkaCommand
{
    internal static Command Create()
    {
        var brokers = new Option<int>("--brokers") { Description = "Brokers in the cluster (ids 1..N).", DefaultValueFactory = _ => 1 };
        var topics = new Option<string[]>("--topic") { Description = "Topic to create, NAME or NAME:PARTITIONS (repeatable).", AllowMultipleArgumentsPerToken = true };
        var up = new Command("up", "Start an embedded Kafka-protocol broker cluster on 127.0.0.1 and run until Ctrl-C or SIGTERM.") { brokers, topics };
        up.SetAction(p => Up(p.GetValue(brokers), p.GetValue(topics) ?? [], p.InvocationConfiguration.Output, p.InvocationConfiguration.Error, CancellationToken.None));
        return new Command("kafka", "Embedded Kafka broker (librdkafka's mock cluster) for local runs and tests.") { up };
    }

    /// <summary>Runs the cluster until <paramref name="stop"/>, Ctrl-C or SIGTERM.</summary>
    public static int Up(int brokers, IReadOnlyList<string> topicArgs, TextWriter stdout, TextWriter stderr, CancellationToken stop)
    {
        List<TopicSpec> topics;
        try
        {
            if (brokers is < 1 or > 64) throw new FormatException($"--brokers: {brokers} must be 1..64.");
            topics = topicArgs.Select(t => TopicSpec.Parse(t)).ToList();
        }
        catch (FormatException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return Program.UsageError;
        }
        using var signalled = CancellationTokenSource.CreateLinkedTokenSource(stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; signalled.Cancel(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; signalled.Cancel(); });
        using var kafka = EmbeddedKafka.Start(brokers);
        foreach (var t in topics) kafka.CreateTopic(t.Name, t.Partitions);
        stdout.WriteLine($"bootstrap: {kafka.BootstrapServers}");
        foreach (var t in topics) stdout.WriteLine($"topic: {t}");
        stdout.WriteLine("running; Ctrl-C or SIGTERM stops it.");
        stdout.Flush();
        signalled.Token.WaitHandle.WaitOne();
        stderr.WriteLine("stopping the embedded broker.");
        return 0;
    }
}
