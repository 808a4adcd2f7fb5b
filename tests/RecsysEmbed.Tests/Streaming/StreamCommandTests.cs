using Confluent.Kafka;
using RecsysEmbed.Cli;
using RecsysEmbed.Core.Updates;
using RecsysEmbed.Streaming.Broker;

namespace RecsysEmbed.Tests.Streaming;

public sealed class StreamCommandTests : IDisposable
{
    private readonly StreamFixture _f = new(rows: 200);

    public void Dispose() => _f.Dispose();

    [Fact]
    public void Produce_ReportsSentAndAcknowledged_AndTheRecordsAreOnTheTopic()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("t", 2);
        var stdout = new StringWriter();
        int code = Program.Run(["stream", "produce", "--data", _f.DataPath, "--format", "criteo", "--topic", "t", "--bootstrap", kafka.BootstrapServers,
                                "--max-records", "150", "--key-field", "C3"], stdout, TextWriter.Null);
        Assert.Equal(0, code);
        Assert.Contains("sent 150 records, acknowledged 150, failed 0", stdout.ToString());
        Assert.Equal(150, EmbeddedKafkaTests.ConsumeAllBytes(kafka.BootstrapServers, "t", 150).Count);
    }

    [Fact]
    public void TailUpdates_ShowsRowsAndDenseRecords()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("u", 1);
        using (var producer = StreamFixture.RawProducer(kafka.BootstrapServers))
        {
            producer.Produce("u", new Message<byte[]?, byte[]?> { Key = EmbeddingUpdateCodec.EncodeRowKey("t_unified", 42), Value = EmbeddingUpdateCodec.EncodeRowValue(7, 1_000, [0.5f, -1f]) });
            producer.Produce("u", new Message<byte[]?, byte[]?> { Key = EmbeddingUpdateCodec.DenseKey.ToArray(), Value = EmbeddingUpdateCodec.EncodeDenseValue(7, 1_000, [1, 2, 3]) });
            producer.Produce("u", new Message<byte[]?, byte[]?> { Key = [(byte)'X'], Value = [1] });
            Assert.Equal(0, producer.Flush(StreamFixture.HangGuard));
        }
        var stdout = new StringWriter();
        Assert.Equal(0, Program.Run(["stream", "tail-updates", "--topic", "u", "--bootstrap", kafka.BootstrapServers, "--max", "3"], stdout, TextWriter.Null));
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("version 7 t_unified[42] dim 2", lines[0]);
        Assert.Contains("0.5000, -1.0000", lines[0]);
        Assert.Contains("dense", lines[1]);
        Assert.Contains("3 bytes", lines[1]);
        Assert.StartsWith("bad", lines[2]);
    }

    [Theory]
    [InlineData("stream", "train", "--config", "CONFIG", "--topic", "t", "--bootstrap", "localhost", "--group", "g", "--checkpoint", "c")]
    [InlineData("stream", "train", "--config", "CONFIG", "--topic", "t:0", "--bootstrap", "h:1", "--group", "g", "--checkpoint", "c")]
    [InlineData("stream", "train", "--config", "CONFIG", "--topic", "t", "--bootstrap", "h:1", "--group", "g", "--checkpoint", "c", "--kafka-property", "nokey")]
    [InlineData("stream", "train", "--config", "CONFIG", "--topic", "t", "--bootstrap", "h:1", "--group", "g", "--checkpoint", "c", "--threads", "0")]
    [InlineData("stream", "produce", "--data", "missing.tsv", "--topic", "t", "--bootstrap", "h:1")]
    [InlineData("stream", "produce", "--topic", "t", "--bootstrap", "h:1")]
    public void BadArguments_AreUsageErrors_NamingTheOption(params string[] args)
    {
        args = args.Select(a => a == "CONFIG" ? _f.ConfigPath : a).ToArray();
        var stderr = new StringWriter();
        Assert.Equal(Program.UsageError, Program.Run(args, TextWriter.Null, stderr));
        Assert.StartsWith("error:", stderr.ToString());
    }
}

public sealed class OnlineQuickstartTests : IDisposable
{
    private readonly StreamFixture _f = new(rows: 10);

    public void Dispose() => _f.Dispose();

    [Fact]
    public void Quickstart_RunsOnline_AndReportsProducedTrainedDeadLetteredAndFreshness()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(["quickstart", "--rows", "3000", "--eval-rows", "500", "--config", _f.ConfigPath, "--dir", _f.NewDir("qs"),
                                "--threads", "1", "--malformed", "7"], stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        string output = stdout.ToString();
        Assert.Contains("3,000 records produced (+7 malformed), 3,000 trained, 7 dead-lettered, 0 lost", output);
        Assert.Contains("online metrics (progressive validation): AUC", output);
        Assert.Contains("held-out (500)", output);
        Assert.Matches(@"freshness \(record produced -> its rows published\): p50 \d+ ms, p99 \d+ ms", output);
        // the lookup service part: served from the checkpoint, fed by the update topic, loaded without errors
        Assert.Matches(@"lookup service \(http://127\.0\.0\.1:\d+, rows from the last checkpoint, [\d,]+ row updates applied", output);
        Assert.Matches(@"load test \(gRPC.*: [\d,]+ calls/s.*errors none", output);
        Assert.Matches(@"freshness \(update published -> visible in a lookup, 50 probes\): p50 [\d.]+ ms", output);
    }
}
