using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace RecsysEmbed.CompressionBench;

/// <summary>Where and from what a run came: commit, machine, date, options and seeds (for the report).</summary>
public sealed record RunManifest(string Commit, string Machine, string StartedUtc, string FinishedUtc, string Options, IReadOnlyList<ulong> Seeds,
                                 string Data, double? BestAuc)
{
    public static RunManifest Create(SuiteOptions options, SuiteDataset data, DateTime started) => new(
        GitCommit(), MachineDescription(), started.ToString("yyyy-MM-dd HH:mm 'UTC'"), DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'"),
        options.Identity(), Enumerable.Range(0, options.Repeats).Select(r => options.Seed + (ulong)r).ToArray(),
        $"{options.Data}: {data.TrainRows:N0} training + {data.EvalRows:N0} held-out rows, {data.DenseFeatures.Count} dense + {data.Sparse.Count} sparse features, {data.FullRows:N0} distinct ids",
        data.BestAuc);

    // The commit the binaries were built from (the SDK's source-control info in the informational version), else
    // git in the current folder.
    private static string GitCommit()
    {
        string? version = typeof(RunManifest).Assembly.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (version is not null && version.IndexOf('+') is int plus and >= 0 && version.Length - plus > 8) return version[(plus + 1)..] + " (build)";
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", "rev-parse HEAD") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            if (git is null) return "unknown";
            string sha = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            if (git.ExitCode != 0 || sha.Length == 0) return "unknown";
            using var status = Process.Start(new ProcessStartInfo("git", "status --porcelain --untracked-files=no") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            string dirty = status?.StandardOutput.ReadToEnd().Trim() ?? "";
            status?.WaitForExit();
            return dirty.Length > 0 ? sha + " (with uncommitted changes)" : sha;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown (git not found)";
        }
    }

    private static string MachineDescription()
    {
        string cpu = "unknown CPU";
        if (File.Exists("/proc/cpuinfo"))
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        double gib = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (double)(1L << 30);
        return $"{cpu}, {Environment.ProcessorCount} cores, {gib:F0} GiB, {RuntimeInformation.OSDescription}, .NET {Environment.Version}";
    }
}
