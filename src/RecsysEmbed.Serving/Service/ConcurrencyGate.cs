namespace RecsysEmbed.Serving.Service;

/// <summary>
/// Bounded admission: at most MaxConcurrent holders at once and at most MaxQueue waiting; a request beyond both is
/// refused at once (the caller answers RESOURCE_EXHAUSTED / 429), so memory never grows with the offered load.
/// Waiters are served first come, first served.
/// </summary>
public sealed class ConcurrencyGate(int maxConcurrent, int maxQueue)
{
    private readonly object _lock = new();
    private readonly Queue<TaskCompletionSource<bool>> _waiting = new();
    private int _active;

    public int MaxConcurrent { get; } = maxConcurrent;
    public int MaxQueue { get; } = maxQueue;
    public int Active { get { lock (_lock) return _active; } }
    public int Queued { get { lock (_lock) return _waiting.Count; } }

    /// <summary>True once a slot is held (release it with <see cref="Release"/>); false when the queue is full.</summary>
    public ValueTask<bool> EnterAsync(CancellationToken cancel = default)
    {
        TaskCompletionSource<bool> waiter;
        lock (_lock)
        {
            if (_active < MaxConcurrent)
            {
                _active++;
                return ValueTask.FromResult(true);
            }
            if (_waiting.Count >= MaxQueue) return ValueTask.FromResult(false);
            waiter = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue(waiter);
        }
        return cancel.CanBeCanceled ? WaitAsync(waiter, cancel) : new ValueTask<bool>(waiter.Task);
    }

    private static async ValueTask<bool> WaitAsync(TaskCompletionSource<bool> waiter, CancellationToken cancel)
    {
        // A cancelled waiter gives up its place (Release skips it); if it was handed a slot first, it holds the slot.
        // The registration ends with the wait: a long-lived token (a LookupStream's, passed for every message) must
        // not collect one callback per queued message.
        using var registration = cancel.Register(static s =>
        {
            var (w, token) = ((TaskCompletionSource<bool>, CancellationToken))s!;
            w.TrySetCanceled(token);
        }, (waiter, cancel));
        return await waiter.Task.ConfigureAwait(false);
    }

    public void Release()
    {
        lock (_lock)
        {
            while (_waiting.Count > 0)
            {
                // Hand the slot straight to the next live waiter (_active unchanged).
                if (_waiting.Dequeue().TrySetResult(true)) return;
            }
            _active--;
        }
    }
}
