using BenchmarkDotNet.Running;

// Kernel benchmarks. Run all:   dotnet run -c Release --project benchmarks/RecsysEmbed.Benchmarks -- --filter '*'
// One class:                   ... -- --filter '*PooledForwardBench*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
