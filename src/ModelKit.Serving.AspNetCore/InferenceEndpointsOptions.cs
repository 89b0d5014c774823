using System.ComponentModel.DataAnnotations;

namespace ModelKit.Serving.AspNetCore;

/// <summary>
/// Settings of the Open Inference Protocol v2 endpoints (REST and gRPC) and of the ModelKit management endpoints.
/// Bound with <c>AddInferenceEndpoints(o => …)</c>; validated when the host starts.
/// </summary>
public sealed class InferenceEndpointsOptions
{
    /// <summary>The name of the policy that <c>AddInferenceEndpoints</c> registers and the management endpoints require.</summary>
    public const string DefaultManagementPolicy = "ModelKitManagement";

    /// <summary>Gets or sets the server name reported by <c>GET /v2</c> and <c>ServerMetadata</c>.</summary>
    /// <value>The default is <c>modelkit</c>.</value>
    [Required]
    public string ServerName { get; set; } = "modelkit";

    /// <summary>
    /// Gets or sets the alias a request without a version uses when the model has it; a model without that alias is
    /// served at its latest version.
    /// </summary>
    /// <value>The default is <c>production</c>.</value>
    [Required]
    public string DefaultAlias { get; set; } = "production";

    /// <summary>Gets or sets how long the default alias of a model is remembered before the registry is asked again.</summary>
    /// <value>The default is 2 seconds. <see cref="TimeSpan.Zero"/> asks the registry on every request.</value>
    public TimeSpan DefaultAliasCacheDuration { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Gets the model references (<c>name</c>, <c>name/3</c>, <c>name@production</c>) loaded when the host starts; the
    /// server reports ready (<c>GET /v2/health/ready</c>, the health check) once every one of them is loaded.
    /// </summary>
    /// <value>The default is empty: nothing is loaded ahead, and the server is ready at once.</value>
    public IList<string> Models { get; } = [];

    /// <summary>
    /// Gets or sets whether an inference request for a model version that is not loaded loads it (the first request
    /// waits). When <see langword="false"/>, such a request gets 503 Service Unavailable (gRPC UNAVAILABLE) and only
    /// <see cref="Models"/> and the management <c>load</c> endpoint load models.
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool LoadOnDemand { get; set; } = true;

    /// <summary>Gets or sets the largest inference request body accepted, in bytes (JSON header plus binary data); a larger body gets 413 (REST) or RESOURCE_EXHAUSTED (gRPC).</summary>
    /// <value>The default is 64 MiB.</value>
    [Range(1024, int.MaxValue)]
    public int MaxRequestBodyBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Gets or sets the largest element count of one input tensor (the product of its shape); a larger one gets 400.</summary>
    /// <value>The default is 16,777,216.</value>
    [Range(1, int.MaxValue)]
    public int MaxElementCount { get; set; } = 16 * 1024 * 1024;

    /// <summary>Gets or sets the largest number of input tensors in one request.</summary>
    /// <value>The default is 256.</value>
    [Range(1, 100_000)]
    public int MaxInputCount { get; set; } = 256;

    /// <summary>Gets or sets the largest size of one BYTES element, in bytes.</summary>
    /// <value>The default is 1 MiB.</value>
    [Range(1, int.MaxValue)]
    public int MaxStringBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Gets or sets the deadline given to requests that state none (REST parameter <c>timeout</c> in microseconds, the
    /// gRPC call deadline); a request still queued when it passes gets 504 (gRPC DEADLINE_EXCEEDED).
    /// </summary>
    /// <value>The default is <see langword="null"/>: no deadline.</value>
    public TimeSpan? DefaultRequestTimeout { get; set; }

    /// <summary>Gets or sets the value of the <c>Retry-After</c> header sent with 429 Too Many Requests, in whole seconds.</summary>
    /// <value>The default is 1 second.</value>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the largest model file the management upload accepts, in bytes; a larger one gets 413 and nothing is stored.</summary>
    /// <value>The default is 2 GiB.</value>
    [Range(1, long.MaxValue)]
    public long MaxUploadBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Gets or sets the authorization policy the management endpoints require.</summary>
    /// <value>The default is <see cref="DefaultManagementPolicy"/>, which <c>AddInferenceEndpoints</c> registers as "an authenticated user"; register a policy of that name before to change what it requires.</value>
    [Required]
    public string ManagementPolicy { get; set; } = DefaultManagementPolicy;

    /// <summary>
    /// Gets or sets whether the management endpoints accept anonymous callers. Only for a host that protects them
    /// another way (a private network, a gateway): anyone who can reach them can register models and move aliases.
    /// </summary>
    /// <value>The default is <see langword="false"/>: the management endpoints require <see cref="ManagementPolicy"/>.</value>
    public bool AllowAnonymousManagement { get; set; }
}
