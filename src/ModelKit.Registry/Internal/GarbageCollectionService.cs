using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ModelKit.Registry.Internal;

/// <summary>
/// Runs <see cref="IModelRegistry.CollectGarbageAsync"/> every <see cref="ModelRegistryOptions.GarbageCollectionInterval"/>
/// while the host runs; does nothing (and resolves nothing) while the interval is <see langword="null"/>. A failed
/// collection is logged and counted (<c>modelkit.registry.gc.runs</c> with outcome <c>failure</c>), and the schedule goes on.
/// </summary>
internal sealed class GarbageCollectionService(
    IServiceProvider services, IOptions<ModelRegistryOptions> options, TimeProvider timeProvider, ILogger<GarbageCollectionService>? logger = null)
    : BackgroundService
{
    private readonly ILogger _logger = logger ?? (ILogger)NullLogger.Instance;
    private PeriodicTimer? _timer;

    /// <summary>Starts the schedule: the timer is created here, so the first collection comes one interval after the host starts.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>A task that completes when the service has started.</returns>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.GarbageCollectionInterval is { } interval)
        {
            _timer ??= new PeriodicTimer(interval, timeProvider);
        }

        return base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _timer?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_timer is null || options.Value.GarbageCollectionInterval is not { } interval)
        {
            return;
        }

        ModelRegistry registry = services.GetRequiredService<ModelRegistry>();
        RegistryLog.GarbageCollectionScheduled(_logger, registry.Artifacts.Description, interval, options.Value.GarbageCollectionGracePeriod);
        try
        {
            while (await _timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await registry.CollectGarbageAsync(null, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    RegistryLog.ScheduledGarbageCollectionFailed(_logger, registry.Artifacts.Description, interval, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping.
        }
    }
}
