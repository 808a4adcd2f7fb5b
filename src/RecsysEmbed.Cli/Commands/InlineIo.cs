namespace RecsysEmbed.Cli.Commands;

/// <summary>The process-wide half of --inline-io (serve, loadtest).</summary>
internal static class InlineIo
{
    /// <summary>
    /// Socket completions run on the epoll thread instead of being queued to the thread pool. .NET reads this variable
    /// once, when the first socket operation starts, so it is set before the command opens any socket.
    /// </summary>
    public static void EnableSocketCompletions() => Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}
