using System.Runtime.InteropServices;
using TorchSharp;

namespace RecsysEmbed.Training;

/// <summary>Process-wide torch settings for a run: threads, seed, and passive OpenMP waiting.</summary>
public static partial class TorchRuntime
{
    private static bool s_envSet;

    /// <summary>
    /// libtorch's OpenMP workers spin after each parallel region by default and steal the cores our embedding
    /// kernels run on next (measured: the engine's 2-thread forward halved). Passive waiting has to be in the native
    /// environment before libgomp loads, so call this before the first torch operation of the process.
    /// </summary>
    public static void UsePassiveOpenMpWaiting()
    {
        if (s_envSet || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) _ = SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0);
        s_envSet = true;
    }

    public static void Configure(int threads, ulong seed)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "--threads must be >= 1.");
        UsePassiveOpenMpWaiting();
        torch.set_num_threads(threads);
        torch.manual_seed((long)(seed & long.MaxValue));
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
