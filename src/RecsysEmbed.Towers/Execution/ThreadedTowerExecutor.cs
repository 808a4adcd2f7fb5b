using System.Runtime.ExceptionServices;

namespace RecsysEmbed.Towers.Execution;

/// <summary>
/// Each tower on its own dedicated thread, for the executor's lifetime: a tower's Forward and Backward always run on
/// the same thread (its step tensors live there), and towers run concurrently with each other.
/// </summary>
public sealed class ThreadedTowerExecutor : LocalTowerExecutor
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _go;
    private readonly CountdownEvent _done;
    private readonly Exception?[] _errors;
    private Action<int>? _work;
    private volatile bool _stopping;

    public ThreadedTowerExecutor(IReadOnlyList<Tower> towers) : base(towers)
    {
        int n = towers.Count;
        _go = Enumerable.Range(0, n).Select(_ => new SemaphoreSlim(0)).ToArray();
        _done = new CountdownEvent(n);
        _errors = new Exception?[n];
        _threads = new Thread[n];
        for (int t = 0; t < n; t++)
        {
            int tower = t;
            _threads[t] = new Thread(() => Loop(tower)) { IsBackground = true, Name = $"tower-{towers[t].Name}" };
            _threads[t].Start();
        }
    }

    protected override void RunAll(Action<int> work)
    {
        _work = work;
        _done.Reset(_threads.Length);
        Array.Clear(_errors);
        foreach (var go in _go) go.Release();
        _done.Wait();
        _work = null;
        foreach (var e in _errors) if (e is not null) ExceptionDispatchInfo.Capture(e).Throw();
    }

    private void Loop(int tower)
    {
        while (true)
        {
            _go[tower].Wait();
            if (_stopping) return;
            try { _work!(tower); }
            catch (Exception e) { _errors[tower] = e; }
            finally { _done.Signal(); }
        }
    }

    public override void Dispose()
    {
        _stopping = true;
        foreach (var go in _go) go.Release();
        foreach (var thread in _threads) thread.Join();
        foreach (var go in _go) go.Dispose();
        _done.Dispose();
        base.Dispose();
    }
}
