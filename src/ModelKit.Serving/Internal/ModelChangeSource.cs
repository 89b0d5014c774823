namespace ModelKit.Serving.Internal;

/// <summary>
/// The one seam through which the pool learns that served references may point elsewhere now. Polling today; when the
/// registry offers change notifications, an implementation over them replaces <see cref="PollingModelChangeSource"/>
/// and calls the callback with the name of the model that changed.
/// </summary>
internal interface IModelChangeSource : IAsyncDisposable
{
    /// <summary>Starts calling <paramref name="onPossibleChange"/>: with a model name when only that model may have changed, or with null for "check everything".</summary>
    void Start(Func<string?, CancellationToken, Task> onPossibleChange);
}

/// <summary>Calls back every <c>interval</c> (by the given <see cref="TimeProvider"/>) with "check everything".</summary>
internal sealed class PollingModelChangeSource(TimeSpan interval, TimeProvider timeProvider) : IModelChangeSource
{
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public void Start(Func<string?, CancellationToken, Task> onPossibleChange)
    {
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        _loop = Task.Run(() => LoopAsync(onPossibleChange));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task LoopAsync(Func<string?, CancellationToken, Task> onPossibleChange)
    {
        using var timer = new PeriodicTimer(interval, timeProvider);
        while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
        {
            await onPossibleChange(null, _stop.Token).ConfigureAwait(false);
        }
    }
}
