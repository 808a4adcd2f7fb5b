using System.CommandLine;
using RecsysEmbed.Cli.Commands;

namespace RecsysEmbed.Cli;

/// <summary>Entry point of <c>recsys-embed</c>. <see cref="Run"/> takes its writers so tests can run commands in-process.</summary>
public static class Program
{
    /// <summary>Exit code of a usage or config error (bad arguments, invalid config, missing file).</summary>
    public const int UsageError = 2;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("recsys-embed: plan and build compressed embedding tables for recommendation models.")
        {
            TablesCommand.Create(),
            DatasetsCommand.Create(),
            TrainCommand.Create(),
            QuickstartCommand.Create(),
            BenchCommand.Create(),
            KafkaCommand.Create(),
            StreamCommand.Create(),
            PlanCommand.Create(),
            TowersCommand.Create(),
            ServeCommand.Create(),
            LoadtestCommand.Create(),
        };
        var parsed = root.Parse(args);
        var invocation = new InvocationConfiguration { Output = stdout, Error = stderr };
        if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
        {
            foreach (var error in parsed.Errors) stderr.WriteLine($"error: {error.Message}");
            stderr.WriteLine("Run 'recsys-embed --help' for usage.");
            return UsageError;
        }
        return parsed.Invoke(invocation);
    }
}
