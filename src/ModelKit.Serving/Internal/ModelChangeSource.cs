using Microsoft.Extensions.Logging;
using ModelKit.Registry;

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

/// <summary>
/// Follows the registry's change feed (<see cref="IModelRegistry.WatchAsync"/>) and calls back with the name of each
/// model whose versions or aliases changed. Each (re)connection first takes the feed's current sequence, then calls back
/// with "check everything" (so nothing that changed while disconnected is missed), then watches after that sequence.
/// Stops quietly when the registry has no change feed (<see cref="NotSupportedException"/>); on any other failure it
/// logs and reconnects after <c>retryDelay</c>.
/// </summary>
internal sealed class RegistryNotificationModelChangeSource(IModelRegistry registry, TimeSpan retryDelay, TimeProvider timeProvider, ILogger logger) : IModelChangeSource
{
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public void Start(Func<string?, CancellationToken, Task> onPossibleChange) => _loop = Task.Run(() => LoopAsync(onPossibleChange));

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
        CancellationToken stop = _stop.Token;
        bool first = true;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                long sequence = await registry.GetChangeSequenceAsync(stop).ConfigureAwait(false);
                if (!first)
                {
                    await onPossibleChange(null, stop).ConfigureAwait(false);
                }

                first = false;
                await foreach (RegistryChange change in registry.WatchAsync(sequence, stop).ConfigureAwait(false))
                {
                    if (change.Kind is RegistryChangeKind.AliasMoved or RegistryChangeKind.AliasRemoved or RegistryChangeKind.VersionRegistered
                        or RegistryChangeKind.VersionArchived or RegistryChangeKind.VersionDeleted)
                    {
                        await onPossibleChange(change.Name, stop).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (NotSupportedException)
            {
                return;
            }
            catch (Exception ex)
            {
                ServingLog.ChangeFeedFailed(logger, ex, retryDelay.TotalSeconds);
                await Task.Delay(retryDelay, timeProvider, stop).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>Runs several change sources and serialises their callbacks, so two never check the same model at once.</summary>
internal sealed class CompositeModelChangeSource(params IModelChangeSource[] sources) : IModelChangeSource
{
    private readonly SemaphoreSlim _serial = new(1, 1);

    public void Start(Func<string?, CancellationToken, Task> onPossibleChange)
    {
        foreach (IModelChangeSource source in sources)
        {
            source.Start(async (name, ct) =>
            {
                await _serial.WaitAsync(ct).ConfigureAwait(false);
                try
                {
                    await onPossibleChange(name, ct).ConfigureAwait(false);
                }
                finally
                {
                    _serial.Release();
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (IModelChangeSource source in sources)
        {
            await source.DisposeAsync().ConfigureAwait(false);
        }

        _serial.Dispose();
    }
}
