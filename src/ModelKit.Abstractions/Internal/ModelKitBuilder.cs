using Microsoft.Extensions.DependencyInjection;

namespace ModelKit.Internal;

internal sealed class ModelKitBuilder(IServiceCollection services) : IModelKitBuilder
{
    public IServiceCollection Services { get; } = services;
}
