using System.Globalization;
using Microsoft.Extensions.Options;
using ModelKit.Onnx.Internal;
using ModelKit.Onnx.Protobuf;
using ModelKit.Registry;

namespace ModelKit.Onnx;

/// <summary>
/// The <see cref="IModelFormatInspector"/> for <c>onnx</c>: validates an uploaded artifact as an ONNX model (see
/// <see cref="OnnxModel.Validate(ModelProto, OnnxModelOptions, string?)"/>, with the configured <see cref="OnnxModelOptions"/>;
/// an artifact is one file, so external tensor data is refused) and reads its signature and properties. Thread-safe.
/// </summary>
/// <remarks>
/// Properties: <c>onnx.ir_version</c>, <c>onnx.opset</c> (default domain), <c>onnx.producer_name</c>,
/// <c>onnx.producer_version</c> (empty when the model does not say), <c>onnx.graph_name</c>, and
/// <c>onnx.opset.{domain}</c> for each other imported operator set (for example <c>onnx.opset.com.microsoft</c>).
/// Numbers are written with the invariant culture.
/// </remarks>
public sealed class OnnxModelInspector : IModelFormatInspector
{
    private readonly OnnxModelOptions _options;

    /// <summary>Initializes an inspector with the default <see cref="OnnxModelOptions"/> (a limit of 2,147,483,647 bytes, no unknown fields).</summary>
    public OnnxModelInspector()
        : this(new OnnxModelOptions())
    {
    }

    /// <summary>Initializes an inspector with the configured options.</summary>
    /// <param name="options">The options.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="OnnxModelOptions.MaxModelBytes"/> is outside 1 to 2,147,483,647.</exception>
    /// <exception cref="ArgumentException">Another option is invalid; the message quotes the value.</exception>
    public OnnxModelInspector(IOptions<OnnxModelOptions> options)
        : this((options ?? throw new ArgumentNullException(nameof(options))).Value)
    {
    }

    private OnnxModelInspector(OnnxModelOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxModelBytes, 1, "OnnxModelOptions.MaxModelBytes");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.MaxModelBytes, OnnxModelOptions.DefaultMaxModelBytes, "OnnxModelOptions.MaxModelBytes");
        OnnxModelOptionsValidator.ThrowIfInvalid(options, nameof(options));
        _options = new OnnxModelOptions
        {
            MaxModelBytes = options.MaxModelBytes,
            AllowUnknownFields = options.AllowUnknownFields,
            MaxSubgraphDepth = options.MaxSubgraphDepth,
            MaxNodes = options.MaxNodes,
            MaxTensors = options.MaxTensors,
            MaxTensorBytes = options.MaxTensorBytes,
            MaxTotalTensorBytes = options.MaxTotalTensorBytes,
        };
    }

    /// <summary>Gets <c>onnx</c> (<see cref="ModelFormats.Onnx"/>).</summary>
    public string Format => ModelFormats.Onnx;

    /// <summary>Validates the artifact as an ONNX model and reads its signature and properties.</summary>
    /// <param name="content">The artifact, read from its current position to its end; not disposed (the caller keeps ownership).</param>
    /// <returns>The signature (graph inputs that are not initializers, and graph outputs) and the properties listed on the class.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="content"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidModelException">The bytes are empty, too large, not an ONNX model, or an invalid one; the message says which and what to do.</exception>
    public ModelArtifactInfo Inspect(Stream content)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (OnnxStructureParser.TryInspect(content, _options, out ModelArtifactInfo info))
        {
            return info;
        }

        ModelProto model = OnnxModel.LoadProto(content, _options);
        return Describe(model);
    }

    /// <summary>Reads the signature and properties of an already loaded and validated model.</summary>
    /// <param name="model">The model.</param>
    /// <returns>The signature and properties.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidModelException">The model's signature cannot be read; see <see cref="OnnxModel.ReadSignature()"/>.</exception>
    public static ModelArtifactInfo Describe(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Describe(model.Proto);
    }

    internal static ModelArtifactInfo Describe(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        ModelSignature signature = OnnxModel.ReadSignature(model);
        var properties = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["onnx.ir_version"] = model.IrVersion.ToString(CultureInfo.InvariantCulture),
            ["onnx.producer_name"] = model.ProducerName,
            ["onnx.producer_version"] = model.ProducerVersion,
            ["onnx.graph_name"] = model.Graph?.Name ?? string.Empty,
        };

        foreach (OperatorSetIdProto opset in model.OpsetImport)
        {
            string key = OnnxModel.IsDefaultDomain(opset.Domain) ? "onnx.opset" : "onnx.opset." + opset.Domain;
            properties[key] = opset.Version.ToString(CultureInfo.InvariantCulture);
        }

        return new ModelArtifactInfo(signature, properties);
    }
}
