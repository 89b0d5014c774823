using Microsoft.Extensions.DependencyInjection;

namespace ModelKit;

/// <summary>
/// Returned by <c>services.AddModelKit()</c>; feature packages add extension methods to it
/// (<c>AddModelRegistry()</c>, <c>AddOnnxRuntimeServing()</c>, <c>AddTraining()</c>).
/// </summary>
public interface IModelKitBuilder
{
    /// <summary>Gets the service collection that ModelKit services are registered into.</summary>
    IServiceCollection Services { get; }
}
