using System.CommandLine;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;

namespace RecsysEmbed.Cli.Commands;

/// <summary>
/// <c>recsys-embed tables --config FILE [--json]</c>: loads a model config and prints its embedding plan (per table
/// and feature: family, matrices, output widths, parameters, bytes; totals; full-table baseline; compression).
/// It only plans, never allocates, so it is instant for multi-GB models.
/// </summary>
internal static class TablesCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config", "-c") { Description = "Model config YAML (see configs/README.md).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the plan as one JSON object on stdout." };
        var command = new Command("tables", "Show the embedding tables a config plans, their memory, and the compression over full tables.")
        {
            config,
            json,
        };
        command.SetAction(parsed => Execute(parsed.GetValue(config)!, parsed.GetValue(json),
                                            parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error));
        return command;
    }

    public static int Execute(string configPath, bool json, TextWriter stdout, TextWriter stderr)
    {
        EmbeddingPlan plan;
        try
        {
            plan = EmbeddingPlan.Create(ModelConfig.Load(configPath));
        }
        catch (ConfigException e)
        {
            stderr.WriteLine($"error: {configPath}: {e.Message}");
            return Program.UsageError;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            stderr.WriteLine($"error: config file not found: {configPath}");
            return Program.UsageError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"error: cannot read config {configPath}: {e.Message}");
            return Program.UsageError;
        }
        if (json) PlanJson.Write(plan, stdout);
        else PlanTables.Write(plan, stdout);
        return 0;
    }
}
