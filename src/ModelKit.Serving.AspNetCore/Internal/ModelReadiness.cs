using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelKit.Registry;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>Whether every model in <see cref="InferenceEndpointsOptions.Models"/> is loaded; thread-safe.</summary>
internal sealed class ModelReadiness
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, string?> _pending = new(StringComparer.Ordinal);

    public ModelReadiness(IOptions<InferenceEndpointsOptions> options)
    {
        foreach (string model in options.Value.Models)
        {
            _pending[model] = null;
        }
    }

    public bool IsReady
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count == 0;
            }
        }
    }

    public int MarkLoaded(string reference)
    {
        lock (_gate)
        {
            _pending.Remove(reference);
            return _pending.Count;
        }
    }

    public void MarkFailed(string reference, string reason)
    {
        lock (_gate)
        {
            _pending[reference] = reason;
        }
    }

    public string Describe()
    {
        lock (_gate)
        {
            if (_pending.Count == 0)
            {
                return "Every configured model is loaded.";
            }

            return "Not ready: " + string.Join("; ", _pending.Select(p => p.Value is null ? $"{p.Key} is loading" : $"{p.Key} failed to load ({p.Value})")) + ".";
        }
    }
}

/// <summary>Loads <see cref="InferenceEndpointsOptions.Models"/> in the background when the host starts, retrying failures.</summary>
internal sealed class ModelPreloadService(
    IInferenceSessionPool pool,
    ModelReadiness readiness,
    IOptions<InferenceEndpointsOptions> options,
    TimeProvider time,
    ILogger<ModelPreloadService> logger) : BackgroundService
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var tasks = new List<Task>();
        foreach (string model in options.Value.Models)
        {
            tasks.Add(LoadAsync(model, stoppingToken));
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private async Task LoadAsync(string text, CancellationToken stoppingToken)
    {
        ModelReference reference = ModelReference.Parse(text);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using IInferenceSessionLease lease = await pool.AcquireAsync(reference, stoppingToken).ConfigureAwait(false);
                int remaining = readiness.MarkLoaded(text);
                EndpointsLog.ModelPreloaded(logger, text, lease.Version.Version, remaining);
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is ModelKitException or IOException or InvalidOperationException)
            {
                readiness.MarkFailed(text, ex.Message);
                EndpointsLog.ModelPreloadFailed(logger, ex, text, RetryDelay.TotalSeconds);
            }

            try
            {
                await Task.Delay(RetryDelay, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

/// <summary>Healthy when every configured model is loaded; unhealthy (naming what is missing) before.</summary>
internal sealed class ModelKitModelsHealthCheck(ModelReadiness readiness) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(readiness.IsReady ? HealthCheckResult.Healthy(readiness.Describe()) : HealthCheckResult.Unhealthy(readiness.Describe()));
}
