using System.Runtime.InteropServices;
using BenchmarkDotNet.Running;

// libtorch's OpenMP workers spin for a while after each parallel region (OMP_WAIT_POLICY=active by default) and
// steal the second core from whatever runs next, our kernels included; measured in-process, that halved our
// 2-thread figures. Passive waiting must be set in the native environment before libgomp loads.
if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null) NativeEnv.SetEnv("OMP_WAIT_POLICY", "PASSIVE", 1);

// Kernel benchmarks. Run all:   dotnet run -c Release --project benchmarks/RecsysEmbed.Benchmarks -- --filter '*'
// One class:                   ... -- --filter '*PooledForwardBench*'
BenchmarkSwitcher.FromAssembly(typeof(NativeEnv).Assembly).Run(args);

static partial class NativeEnv
{
    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SetEnv(string name, string value, int overwrite);
}
