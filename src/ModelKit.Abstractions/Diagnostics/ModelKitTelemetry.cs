using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ModelKit.Diagnostics;

/// <summary>
/// The names ModelKit's meters, activity sources and tags use. Meters and activity
/// sources are named after their package; instruments are <c>modelkit.*</c>; durations are in seconds (<c>s</c>) and
/// sizes in bytes (<c>By</c>). Tensor data never goes into tags, activities or logs.
/// </summary>
public static class ModelKitTelemetry
{
    /// <summary>The meter and activity source of ModelKit.Registry.</summary>
    public const string RegistryName = "ModelKit.Registry";

    /// <summary>The meter and activity source of ModelKit.Serving.</summary>
    public const string ServingName = "ModelKit.Serving";

    /// <summary>The meter and activity source of ModelKit.Training.</summary>
    public const string TrainingName = "ModelKit.Training";

    /// <summary>Tag: the model name, for example <c>fashion-mnist</c>.</summary>
    public const string ModelNameTag = "modelkit.model.name";

    /// <summary>Tag: the model version number.</summary>
    public const string ModelVersionTag = "modelkit.model.version";

    /// <summary>Tag: the execution provider, <c>cpu</c> or <c>cuda</c>.</summary>
    public const string ProviderTag = "modelkit.provider";

    /// <summary>Tag: the full name of the exception type of a failed operation (OpenTelemetry's <c>error.type</c>).</summary>
    public const string ErrorTypeTag = "error.type";
}
