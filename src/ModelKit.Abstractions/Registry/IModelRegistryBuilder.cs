using Microsoft.Extensions.DependencyInjection;

namespace ModelKit.Registry;

/// <summary>
/// Chooses the registry's stores inside <c>AddModelRegistry(r =&gt; …)</c>: <c>r.UsePostgreSql(…)</c>,
/// <c>r.UseS3Artifacts(…)</c>, <c>r.UseAzureBlobArtifacts(…)</c> from their packages; SQLite and the file store are the
/// defaults for whatever is not chosen.
/// </summary>
public interface IModelRegistryBuilder
{
    /// <summary>Gets the service collection the stores are registered into.</summary>
    IServiceCollection Services { get; }
}
