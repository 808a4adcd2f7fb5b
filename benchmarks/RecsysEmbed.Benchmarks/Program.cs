using BenchmarkDotNet.Running;
using RecsysEmbed.Training;

// libtorch's OpenMP workers spin after each parallel region and steal the second core from our kernels, which halved
// our 2-thread figures in-process; make them wait passively before torch loads (see TorchRuntime).
TorchRuntime.UsePassiveOpenMpWaiting();

// Kernel benchmarks. Run all:   dotnet run -c Release --project benchmarks/RecsysEmbed.Benchmarks -- --filter '*'
// One class:                   ... -- --filter '*PooledForwardBench*'
BenchmarkSwitcher.FromAssembly(typeof(RecsysEmbed.Benchmarks.Micro.BenchData).Assembly).Run(args);
