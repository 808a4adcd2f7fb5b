using Confluent.Kafka;
using RecsysEmbed.Cli;
using RecsysEmbed.Cli.Commands;

namespace RecsysEmbed.Tests.Streaming;

public class KafkaCommandTests
{
    [Fact]
    public async Task Up_PrintsABootstrapThatServesTheTopics_AndStopsOnCancel()
    {
        var stdout = new BlockingWriter();
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => KafkaCommand.Up(2, ["impressions:3", "updates"], stdout, TextWriter.Null, stop.Token));
        string line = stdout.WaitForLine(l => l.StartsWith("bootstrap: "), TimeSpan.FromSeconds(60));
        string bootstrap = line["bootstrap: ".Length..];
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build())
        {
            var meta = admin.GetMetadata(TimeSpan.FromSeconds(60));
            Assert.Equal(3, meta.Topics.Single(t => t.Topic == "impressions").Partitions.Count);
            Assert.Single(meta.Topics.Single(t => t.Topic == "updates").Partitions);
            Assert.Equal(2, meta.Brokers.Count);
        }
        stop.Cancel();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Theory]
    [InlineData("kafka", "up", "--brokers", "0")]
    [InlineData("kafka", "up", "--topic", "t:zero")]
    public void Up_BadArguments_AreUsageErrors(params string[] args)
    {
        var stderr = new StringWriter();
        Assert.Equal(Program.UsageError, Program.Run(args, TextWriter.Null, stderr));
        Assert.Contains("--", stderr.ToString());
    }

    /// <summary>A writer whose lines a test can wait for.</summary>
    internal sealed class BlockingWriter : TextWriter
    {
        private readonly System.Text.StringBuilder _current = new();
        private readonly List<string> _lines = [];
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void Write(char value)
        {
            lock (_lines)
            {
                if (value == '\n') { _lines.Add(_current.ToString()); _current.Clear(); Monitor.PulseAll(_lines); }
                else if (value != '\r') _current.Append(value);
            }
        }

        public string WaitForLine(Func<string, bool> match, TimeSpan hangGuard)
        {
            var deadline = DateTime.UtcNow + hangGuard;
            lock (_lines)
            {
                while (true)
                {
                    var hit = _lines.FirstOrDefault(match);
                    if (hit is not null) return hit;
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero) throw new TimeoutException("line not written");
                    Monitor.Wait(_lines, left);
                }
            }
        }
    }
}
