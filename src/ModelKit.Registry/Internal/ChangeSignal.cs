namespace ModelKit.Registry.Internal;

/// <summary>Wakes every waiter when pulsed; a waiter that arrives after a pulse waits for the next one. Thread-safe.</summary>
internal sealed class ChangeSignal
{
    private TaskCompletionSource _current = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets a task that completes at the next pulse.</summary>
    public Task WaitAsync() => Volatile.Read(ref _current).Task;

    public void Pulse()
    {
        TaskCompletionSource previous = Interlocked.Exchange(ref _current, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        previous.TrySetResult();
    }
}
