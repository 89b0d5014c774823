using System.ComponentModel.DataAnnotations;

namespace ModelKit;

/// <summary>Options shared by every ModelKit package.</summary>
public sealed class ModelKitOptions
{
    /// <summary>
    /// Gets or sets the directory that holds the embedded registry database (<c>registry.db</c>) and the
    /// content-addressed artifact store (<c>blobs/</c>). Relative paths are resolved against the current
    /// directory when the registry is first used. ModelKit writes nothing outside this directory.
    /// </summary>
    /// <value>The default is <c>./modelkit-data</c>.</value>
    [Required]
    public string DataDirectory { get; set; } = "./modelkit-data";
}
