using System.Globalization;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ModelKit.Registry;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>One row of the repository index: a registered version and whether it is loaded.</summary>
internal sealed record RepositoryIndexEntry(string Name, string Version, string State, string Reason);

/// <summary>
/// The model repository extension of the Open Inference Protocol as Triton, KServe and MLServer define it
/// (Triton's docs/protocol/extension_model_repository.md; the kserve/open-inference-protocol specification names
/// extensions but defines none): index, load and unload. The repository is the ModelKit registry; a model is a
/// registered name, each registered version one index row, READY when the pool serves it, else UNAVAILABLE. Load and
/// unload act on the session pool; with the optional parameter <c>version</c> (digits or an alias) they act on that
/// version, else on the model's default version (load) or every loaded reference of the model (unload). Triton's
/// <c>config</c> and <c>file:</c> parameters (model files sent with the request) are refused: versions are registered
/// through <c>POST /modelkit/v1/models/{name}/versions</c>. Load and unload change what the server serves, so they
/// require the management policy, as the management endpoints do.
/// </summary>
internal sealed class ModelRepositoryExtension(InferenceEndpointHandler handler)
{
    public const string Name = "model_repository";

    /// <summary>Set by <c>MapModelKitRepository()</c>; until then the gRPC methods answer UNIMPLEMENTED and the server metadata does not list the extension.</summary>
    public bool Enabled { get; set; }

    public IReadOnlyList<string> Extensions => Enabled ? [.. OipRestEndpoints.Extensions, Name] : OipRestEndpoints.Extensions;

    public async Task<List<RepositoryIndexEntry>> IndexAsync(bool readyOnly, CancellationToken cancellationToken)
    {
        var loaded = new HashSet<(string, int)>();
        foreach (LoadedModel model in handler.Pool.GetLoadedModels())
        {
            loaded.Add((model.Version.Name, model.Version.Version));
        }

        var index = new List<RepositoryIndexEntry>();
        foreach (string name in await handler.Registry.ListModelsAsync(cancellationToken))
        {
            foreach (ModelVersion version in await handler.Registry.ListVersionsAsync(name, cancellationToken))
            {
                bool ready = loaded.Contains((name, version.Version));
                if (ready || !readyOnly)
                {
                    index.Add(new RepositoryIndexEntry(name, version.Version.ToString(CultureInfo.InvariantCulture), ready ? "READY" : "UNAVAILABLE", ready ? "" : "not loaded"));
                }
            }
        }

        return index;
    }

    /// <summary>Loads (or keeps loaded) the version <paramref name="version"/> names, else the model's default version.</summary>
    public async Task<ModelVersion> LoadAsync(string name, string? version, CancellationToken cancellationToken)
    {
        ModelReference reference = await handler.ResolveReferenceAsync(name, version, cancellationToken);
        using IInferenceSessionLease lease = await handler.Pool.AcquireAsync(reference, cancellationToken);
        return lease.Version;
    }

    /// <summary>Unloads every loaded reference of model <paramref name="name"/> (or only those serving the version <paramref name="version"/> names); returns how many.</summary>
    public async Task<int> UnloadAsync(string name, string? version, CancellationToken cancellationToken)
    {
        if (handler.Pool is not OnnxRuntimeSessionPool pool)
        {
            throw new InferenceProtocolException(501, $"The session pool in use ({handler.Pool.GetType().Name}) cannot unload models on request.");
        }

        int? only = null;
        if (!string.IsNullOrEmpty(version))
        {
            ModelReference wanted = await handler.ResolveReferenceAsync(name, version, cancellationToken);
            only = (await handler.Registry.ResolveAsync(wanted, cancellationToken)).Version;
        }
        else if (!ModelName.IsValid(name) || (await handler.Registry.ListVersionsAsync(name, cancellationToken)).Count == 0)
        {
            throw new InferenceProtocolException(404, $"No model named '{InferenceEndpointHandler.Shorten(name)}' is registered; POST /v2/repository/index lists the repository.");
        }

        int unloaded = 0;
        foreach (LoadedModel model in pool.GetLoadedModels())
        {
            if (model.Version.Name == name && (only is null || model.Version.Version == only)
                && ModelReference.TryParse(model.Reference, out ModelReference? reference) && pool.Unload(reference))
            {
                unloaded++;
            }
        }

        return unloaded;
    }

    /// <summary>The <c>version</c> parameter, if any; refuses Triton's model-file parameters and anything unknown.</summary>
    public static string? CheckParameters(IEnumerable<KeyValuePair<string, object?>> parameters, bool unload)
    {
        string? version = null;
        foreach ((string key, object? value) in parameters)
        {
            switch (key)
            {
                case "version" when value is string s && s.Length > 0:
                    version = s;
                    break;
                case "version":
                    throw InferenceProtocolException.BadRequest("The parameter 'version' must be a non-empty string: a version number (\"3\") or an alias (\"production\").");
                case "unload_dependents" when unload && value is bool:
                    break; // ModelKit has no ensembles: nothing depends on a model.
                case "config":
                case not null when key.StartsWith("file:", StringComparison.Ordinal):
                    throw InferenceProtocolException.BadRequest($"The parameter '{InferenceEndpointHandler.Shorten(key)}' (a model configuration or file sent with the request) is not supported: ModelKit loads registered ONNX versions; register a file with POST /modelkit/v1/models/{{name}}/versions or `modelkit register`.");
                default:
                    throw InferenceProtocolException.BadRequest($"Unknown parameter '{InferenceEndpointHandler.Shorten(key ?? "")}'; {(unload ? "unload accepts 'version' (string) and 'unload_dependents' (bool)" : "load accepts 'version' (string)")}.");
            }
        }

        return version;
    }

    /// <summary>
    /// Whether the caller may use the extension over gRPC: the management policy (authenticating with the policy's
    /// schemes, as the authorization middleware does for REST), unless anonymous management is allowed.
    /// </summary>
    public async Task<(bool Allowed, bool Authenticated)> AuthorizeAsync(HttpContext context)
    {
        if (handler.Options.AllowAnonymousManagement)
        {
            return (true, true);
        }

        IAuthorizationPolicyProvider? policies = context.RequestServices.GetService<IAuthorizationPolicyProvider>();
        IPolicyEvaluator? evaluator = context.RequestServices.GetService<IPolicyEvaluator>();
        AuthorizationPolicy? policy = policies is null ? null : await policies.GetPolicyAsync(handler.Options.ManagementPolicy);
        if (policy is null || evaluator is null)
        {
            return (false, context.User.Identity?.IsAuthenticated == true);
        }

        AuthenticateResult authentication = await evaluator.AuthenticateAsync(policy, context);
        PolicyAuthorizationResult result = await evaluator.AuthorizeAsync(policy, authentication, context, resource: null);
        return (result.Succeeded, authentication.Succeeded);
    }
}
