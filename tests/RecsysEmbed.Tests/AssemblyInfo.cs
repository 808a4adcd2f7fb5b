using Xunit;

// Test classes run one after another. TorchSharp's seed and thread count, the kernel thread pool and the embedded
// brokers' ports are process-wide, and training tests assert bit-identical results (resume equals an
// uninterrupted run), so two classes must never interleave. On 2 cores parallel classes bought little time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
