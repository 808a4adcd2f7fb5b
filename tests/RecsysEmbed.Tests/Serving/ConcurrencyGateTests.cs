using RecsysEmbed.Serving.Service;

namespace RecsysEmbed.Tests.Serving;

public class ConcurrencyGateTests
{
    [Fact]
    public async Task Admits_up_to_the_limit_queues_up_to_the_queue_and_refuses_beyond()
    {
        var gate = new ConcurrencyGate(maxConcurrent: 2, maxQueue: 2);
        Assert.True(await gate.EnterAsync());
        Assert.True(await gate.EnterAsync());
        var first = gate.EnterAsync().AsTask();
        var second = gate.EnterAsync().AsTask();
        Assert.False(first.IsCompleted);
        Assert.False(second.IsCompleted);
        Assert.False(await gate.EnterAsync()); // queue full: refused at once
        Assert.Equal((2, 2), (gate.Active, gate.Queued));

        gate.Release();                        // the slot goes to the first waiter, in arrival order
        Assert.True(await first);
        Assert.False(second.IsCompleted);
        gate.Release();
        Assert.True(await second);
        gate.Release();
        gate.Release();
        Assert.Equal((0, 0), (gate.Active, gate.Queued));
    }

    [Fact]
    public async Task A_cancelled_waiter_gives_its_turn_to_the_next_one()
    {
        var gate = new ConcurrencyGate(maxConcurrent: 1, maxQueue: 2);
        Assert.True(await gate.EnterAsync());
        using var cancel = new CancellationTokenSource();
        var abandoned = gate.EnterAsync(cancel.Token).AsTask();
        var next = gate.EnterAsync().AsTask();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        gate.Release();
        Assert.True(await next);
        Assert.Equal(1, gate.Active);
        gate.Release();
        Assert.Equal(0, gate.Active);
    }
}
