namespace RecsysEmbed.Core.Kernels;

/// <summary>
/// A small pool of persistent worker threads for kernels that split bags or rows across cores without
/// allocating per call (Parallel.For allocates its loop state on every call). The caller runs part 0
/// itself; parts 1..n-1 go to the workers. If the pool is already busy (two tables running kernels from
/// two threads at once), the call simply runs all parts on the calling thread, which keeps results identical.
/// </summary>
public sealed unsafe class KernelThreads
{
    private static readonly Lazy<KernelThreads> s_shared = new(() => new KernelThreads(Environment.ProcessorCount));
    public static KernelThreads Shared => s_shared.Value;

    private readonly Worker[] _workers;
    private readonly object _gate = new();
    private delegate*<void*, int, int, void> _body;
    private void* _state;
    private int _parts;
    private int _remaining;
    private readonly ManualResetEventSlim _done = new(false);

    private sealed class Worker
    {
        public readonly ManualResetEventSlim Go = new(false, spinCount: 200);
        public int Part;
    }

    public KernelThreads(int threadCount)
    {
        if (threadCount < 1) ThrowHelper.OutOfRange(nameof(threadCount), threadCount, "at least one thread is needed.");
        ThreadCount = threadCount;
        _workers = new Worker[threadCount - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            var w = _workers[i] = new Worker();
            var t = new Thread(() => Loop(w)) { IsBackground = true, Name = $"recsys-kernel-{i + 1}" };
            t.Start();
        }
    }

    public int ThreadCount { get; }

    /// <summary>
    /// Runs body(state, part, parts) for part = 0..parts-1, parts &lt;= ThreadCount, and returns when all are done.
    /// The state pointer must stay valid until then (point it at a stack struct of the caller).
    /// </summary>
    public void Run(int parts, delegate*<void*, int, int, void> body, void* state)
    {
        parts = Math.Clamp(parts, 1, ThreadCount);
        if (parts == 1 || !Monitor.TryEnter(_gate))
        {
            for (int p = 0; p < parts; p++) body(state, p, parts);
            return;
        }
        try
        {
            _body = body;
            _state = state;
            _parts = parts;
            _done.Reset();
            Volatile.Write(ref _remaining, parts - 1);
            for (int p = 1; p < parts; p++)
            {
                _workers[p - 1].Part = p;
                _workers[p - 1].Go.Set();
            }
            body(state, 0, parts);
            _done.Wait();
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    private void Loop(Worker w)
    {
        while (true)
        {
            w.Go.Wait();
            w.Go.Reset();
            _body(_state, w.Part, _parts);
            if (Interlocked.Decrement(ref _remaining) == 0) _done.Set();
        }
    }

    /// <summary>Splits [0, count) into <paramref name="parts"/> contiguous ranges; returns part p's range.</summary>
    public static (int Start, int End) Range(int count, int part, int parts)
    {
        long start = (long)count * part / parts, end = (long)count * (part + 1) / parts;
        return ((int)start, (int)end);
    }
}
