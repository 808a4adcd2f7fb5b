using System.CommandLine;
using RecsysEmbed.Cli.Commands;

namespace RecsysEmbed.Cli;

/// <summary>The <c>recsys-embed</c> command line. Each subcommand lives in Commands/ and is registered here.</summary>
public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Parses and runs a command with the given writers (tests call this in-process).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("RecsysEmbed: embedding tables for recommendation models.") { HelpName = "recsys-embed" };
        root.Add(DatasetsCommand.Create());
        var invocation = new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = null };
        return root.Parse(args).Invoke(invocation);
    }
}
