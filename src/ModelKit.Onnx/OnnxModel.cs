using System.Globalization;
using Google.Protobuf;
using ModelKit.Onnx.Internal;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Onnx;

/// <summary>
/// A parsed and validated ONNX model (<c>ModelProto</c>, onnx/onnx.proto; semantics in onnx/docs/IR.md), loaded from
/// bytes (<see cref="Load(ReadOnlySpan{byte})"/>), a stream (<see cref="Load(Stream, long)"/>) or a file
/// (<see cref="LoadFile"/>). The object is opaque and immutable: read its signature (<see cref="ReadSignature()"/>),
/// operator set imports, producer and metadata, or write it back (<see cref="ToArray"/>, <see cref="WriteTo"/>).
/// ModelKit's protobuf classes are an implementation detail and not part of the API. Every member is thread-safe.
/// </summary>
/// <remarks>
/// The input is treated as untrusted: it is size-limited before parsing, parsed with the complete schema of ONNX 1.19
/// (IR version 12), and then checked in one walk over every message it holds (graphs, subgraphs at any depth, nodes,
/// attributes, model-local functions and their attribute defaults, <c>training_info</c> graphs and bindings), because
/// protobuf happily "parses" many random byte strings, and because ONNX Runtime acts on tensors wherever they are
/// (including model-local functions, which it inlines, and external data files, which it opens):
/// <list type="bullet">
/// <item><c>ir_version</c> 1 or greater, a graph, a default-domain <c>opset_import</c>, at least one graph input that
/// is not an initializer and one output, tensor types with a supported element type on them;</item>
/// <item>no field that ONNX 1.19's <c>onnx.proto</c> does not define, unless <see cref="OnnxModelOptions.AllowUnknownFields"/>;</item>
/// <item>the limits of <see cref="OnnxModelOptions"/>: model bytes, subgraph depth, nodes, tensors, bytes per tensor and in total;</item>
/// <item>every tensor (initializer, sparse initializer, attribute <c>t</c>/<c>tensors</c>/<c>sparse_tensor</c>/<c>sparse_tensors</c>):
/// a defined element type, dimensions 0 or greater whose product fits 64 bits, data that holds exactly the declared
/// elements (so a shape like [2^40, 2^40] with a few bytes of <c>raw_data</c> is refused before anything allocates it);</item>
/// <item>external data: refused for bytes and streams; checked against the model file's folder by <see cref="LoadFile"/>.</item>
/// </list>
/// </remarks>
public sealed class OnnxModel
{
    private const string Expected = "expected a serialized onnx.ModelProto (.onnx file)";
    private static readonly OnnxModelOptions DefaultOptions = new();

    // File signatures ("magic numbers") of formats often uploaded by mistake, to say what the bytes are instead.
    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private static ReadOnlySpan<byte> JpegSignature => [0xFF, 0xD8, 0xFF];

    private static ReadOnlySpan<byte> ZipSignature => [0x50, 0x4B, 0x03, 0x04];

    private static ReadOnlySpan<byte> GzipSignature => [0x1F, 0x8B];

    private static ReadOnlySpan<byte> NumpySignature => [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59];

    private static ReadOnlySpan<byte> Hdf5Signature => [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Reads a serialized model from <paramref name="stream"/> (from its current position to its end), parses and validates it with the default options and a size limit.</summary>
    /// <param name="stream">The model bytes; read to the end and not disposed (the caller keeps ownership).</param>
    /// <param name="maxBytes">The largest accepted size in bytes, from 1 to 2,147,483,647 (the default, protobuf's limit).</param>
    /// <returns>The model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytes"/> is outside 1 to 2,147,483,647.</exception>
    /// <exception cref="InvalidModelException">The bytes are empty, too large, not a <c>ModelProto</c>, or not a valid model; see <see cref="Validate(ModelProto, OnnxModelOptions, string?)"/>.</exception>
    internal static ModelProto LoadProto(Stream stream, long maxBytes = OnnxModelOptions.DefaultMaxModelBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytes, OnnxModelOptions.DefaultMaxModelBytes);
        return LoadProto(stream, new OnnxModelOptions { MaxModelBytes = maxBytes });
    }

    /// <summary>Reads a serialized model from <paramref name="stream"/> (from its current position to its end), parses and validates it.</summary>
    /// <param name="stream">The model bytes; read to the end and not disposed (the caller keeps ownership).</param>
    /// <param name="options">The size limit (<see cref="OnnxModelOptions.MaxModelBytes"/>) and the validation limits.</param>
    /// <returns>The model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="options"/> is invalid; the message quotes each invalid value.</exception>
    /// <exception cref="InvalidModelException">The bytes are empty, too large, not a <c>ModelProto</c>, or not a valid model; see <see cref="Validate(ModelProto, OnnxModelOptions, string?)"/>.</exception>
    internal static ModelProto LoadProto(Stream stream, OnnxModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(stream);
        OnnxModelOptionsValidator.ThrowIfInvalid(options, nameof(options));
        byte[] buffer = ReadAll(stream, options.MaxModelBytes, out int length);
        return LoadCore(new ReadOnlySpan<byte>(buffer, 0, length), options, externalData: null);
    }

    /// <summary>Parses and validates a serialized model with the default options. External tensor data is refused: bytes have no folder to resolve it against.</summary>
    /// <param name="data">The model bytes (at most 2,147,483,647, protobuf's limit).</param>
    /// <returns>The model.</returns>
    /// <exception cref="InvalidModelException">The bytes are empty, not a <c>ModelProto</c>, or not a valid model; see <see cref="Validate(ModelProto, OnnxModelOptions, string?)"/>.</exception>
    internal static ModelProto LoadProto(ReadOnlySpan<byte> data) => LoadCore(data, DefaultOptions, externalData: null);

    /// <summary>Parses and validates a serialized model. External tensor data is refused: bytes have no folder to resolve it against.</summary>
    /// <param name="data">The model bytes.</param>
    /// <param name="options">The size limit (<see cref="OnnxModelOptions.MaxModelBytes"/>) and the validation limits.</param>
    /// <returns>The model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="options"/> is invalid; the message quotes each invalid value.</exception>
    /// <exception cref="InvalidModelException">The bytes are empty, larger than the limit, not a <c>ModelProto</c>, or not a valid model; see <see cref="Validate(ModelProto, OnnxModelOptions, string?)"/>.</exception>
    internal static ModelProto LoadProto(ReadOnlySpan<byte> data, OnnxModelOptions options)
    {
        OnnxModelOptionsValidator.ThrowIfInvalid(options, nameof(options));
        if (data.Length > options.MaxModelBytes)
        {
            throw TooLarge(data.Length.ToString("N0", CultureInfo.InvariantCulture), options.MaxModelBytes);
        }

        return LoadCore(data, options, externalData: null);
    }

    /// <summary>
    /// Reads a model file, parses and validates it, and checks its external tensor data (if any) against the file's
    /// folder: each <c>location</c> must be a normalised relative path that stays inside that folder after symbolic links
    /// are resolved, name a regular file, and give an <c>offset</c> and <c>length</c> inside it that hold exactly the
    /// tensor's bytes (onnx/docs/ExternalData.md). Call it before handing the same path to ONNX Runtime, which resolves
    /// external data against the model file's folder.
    /// </summary>
    /// <remarks>
    /// The check holds for the files as they are when it runs: load the model into ONNX Runtime from a folder that
    /// nobody else writes to (such as an immutable registry artifact), or the files could change in between.
    /// </remarks>
    /// <param name="path">The <c>.onnx</c> file.</param>
    /// <param name="options">The limits; <see langword="null"/> for the defaults.</param>
    /// <returns>The model (its external data is not loaded).</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is <see langword="null"/> or empty, or <paramref name="options"/> is invalid.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="InvalidModelException">The file is not a valid model, or its external data breaks a rule above (or cannot be checked); the message names the tensor, the location and the rule.</exception>
    internal static ModelProto LoadProtoFile(string path, OnnxModelOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= DefaultOptions;
        OnnxModelOptionsValidator.ThrowIfInvalid(options, nameof(options));
        string fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"Model file '{fullPath}' does not exist. Check the path.", fullPath);
        }

        ExternalDataFolder folder = ExternalDataFolder.Open(Path.GetDirectoryName(fullPath)!, options.MaxTotalTensorBytes);
        using var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        byte[] buffer = ReadAll(stream, options.MaxModelBytes, out int length);
        return LoadCore(new ReadOnlySpan<byte>(buffer, 0, length), options, folder);
    }

    /// <summary>
    /// Checks a model with the default options, as <see cref="Validate(ModelProto, OnnxModelOptions, string?)"/> does
    /// without an external data folder: any tensor stored externally is refused.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidModelException">A check failed; the message says which, with the values, and what to do.</exception>
    internal static void Validate(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        ValidateCore(model, default, DefaultOptions, externalData: null);
    }

    /// <summary>
    /// Checks an untrusted model in one walk over every message it holds (graphs, subgraphs at any depth, nodes,
    /// attributes, model-local functions and their attribute defaults, <c>training_info</c> graphs and bindings):
    /// <list type="bullet">
    /// <item><c>ir_version</c> 1 or greater, a graph, a default-domain <c>opset_import</c>, at least one graph input that
    /// is not an initializer and one output, tensor types with a supported element type on them;</item>
    /// <item>no field that ONNX 1.19's <c>onnx.proto</c> does not define, unless <see cref="OnnxModelOptions.AllowUnknownFields"/>;</item>
    /// <item>the limits of <paramref name="options"/>: subgraph depth, nodes, tensors, bytes per tensor and in total;</item>
    /// <item>every tensor (initializer, sparse initializer, attribute <c>t</c>/<c>tensors</c>/<c>sparse_tensor</c>/<c>sparse_tensors</c>):
    /// a defined element type, dimensions 0 or greater whose product fits 64 bits, data that holds exactly the declared
    /// elements (so a shape like [2^40, 2^40] with a few bytes of <c>raw_data</c> is refused before anything allocates it);</item>
    /// <item>external data: refused when <paramref name="externalDataDirectory"/> is <see langword="null"/>; otherwise
    /// checked against that folder as <see cref="LoadFile"/> describes.</item>
    /// </list>
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="options">The limits.</param>
    /// <param name="externalDataDirectory">The folder that holds the model file and its external data files, or <see langword="null"/> when the model has no folder (it came as bytes).</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="options"/> is invalid, or <paramref name="externalDataDirectory"/> is empty.</exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="externalDataDirectory"/> does not exist.</exception>
    /// <exception cref="InvalidModelException">A check failed; the message names the element (for example <c>attribute 'value' of node 'c' (Constant) of model-local function 'f'</c>), the value and what to do.</exception>
    internal static void Validate(ModelProto model, OnnxModelOptions options, string? externalDataDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        OnnxModelOptionsValidator.ThrowIfInvalid(options, nameof(options));
        ExternalDataFolder? folder = externalDataDirectory is null ? null : ExternalDataFolder.Open(externalDataDirectory, options.MaxTotalTensorBytes);
        ValidateCore(model, default, options, folder);
    }

    /// <summary>
    /// Reads the signature: the graph inputs that are not initializers, in graph order, and the graph outputs. A
    /// dimension with <c>dim_value</c> is that value; one with <c>dim_param</c> (symbolic) or neither is <c>-1</c>.
    /// A tensor type without any shape (unknown rank) is reported with <see cref="TensorSpec.HasUnknownRank"/> set (any shape
    /// is accepted), not as a scalar.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <returns>The signature.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidModelException">The model has no graph, an input or output is not a tensor, has no name, has an element type ModelKit does not support, or has a negative dimension.</exception>
    internal static ModelSignature ReadSignature(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Graph is null)
        {
            throw new InvalidModelException($"The data is not an ONNX model: it has no graph (ModelProto.graph is missing); {Expected}.");
        }

        GraphProto graph = model.Graph;
        var initializers = new HashSet<string>(StringComparer.Ordinal);
        foreach (TensorProto tensor in graph.Initializer)
        {
            initializers.Add(tensor.Name);
        }

        foreach (SparseTensorProto sparse in graph.SparseInitializer)
        {
            if (sparse.Values is not null)
            {
                initializers.Add(sparse.Values.Name);
            }
        }

        var inputs = new List<TensorSpec>(graph.Input.Count);
        foreach (ValueInfoProto input in graph.Input)
        {
            if (!initializers.Contains(input.Name))
            {
                inputs.Add(ToTensorSpec(input, "input"));
            }
        }

        var outputs = new List<TensorSpec>(graph.Output.Count);
        foreach (ValueInfoProto output in graph.Output)
        {
            outputs.Add(ToTensorSpec(output, "output"));
        }

        return new ModelSignature(inputs, outputs);
    }

    /// <summary>Returns the version of the default-domain (<c>""</c> or <c>ai.onnx</c>) operator set the model imports.</summary>
    /// <param name="model">The model.</param>
    /// <returns>The opset version, or <see langword="null"/> when the model imports none.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is <see langword="null"/>.</exception>
    internal static long? GetDefaultOpset(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (OperatorSetIdProto opset in model.OpsetImport)
        {
            if (IsDefaultDomain(opset.Domain))
            {
                return opset.Version;
            }
        }

        return null;
    }

    /// <summary>Maps an ONNX <c>TensorProto.DataType</c> value to <see cref="TensorElementType"/>.</summary>
    /// <param name="dataType">The ONNX data type value, for example 1 for FLOAT.</param>
    /// <param name="elementType">The element type when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when ModelKit supports the type (every <see cref="TensorElementType"/> except Undefined).</returns>
    public static bool TryGetElementType(int dataType, out TensorElementType elementType)
    {
        elementType = (TensorElementType)dataType;
        if (elementType != TensorElementType.Undefined && Enum.IsDefined(elementType))
        {
            return true;
        }

        elementType = TensorElementType.Undefined;
        return false;
    }

    private readonly ModelProto _proto;
    private ModelSignature? _signature;

    private OnnxModel(ModelProto proto) => _proto = proto;

    /// <summary>Gets the model's <c>ir_version</c> (1 or greater).</summary>
    public long IrVersion => _proto.IrVersion;

    /// <summary>Gets the model's <c>producer_name</c> (empty when not set).</summary>
    public string ProducerName => _proto.ProducerName;

    /// <summary>Gets the model's <c>producer_version</c> (empty when not set).</summary>
    public string ProducerVersion => _proto.ProducerVersion;

    /// <summary>Gets the main graph's <c>name</c> (empty when not set).</summary>
    public string GraphName => _proto.Graph.Name;

    /// <summary>Gets the version of the default-domain (<c>""</c> or <c>ai.onnx</c>) operator set the model imports (validation guarantees there is one).</summary>
    public long DefaultOpset => GetDefaultOpset(_proto) ?? 0;

    /// <summary>Gets the model's <c>opset_import</c> entries in file order: the domain (<c>""</c> for the default domain) and the operator set version.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> OpsetImports =>
        _proto.OpsetImport.Select(o => new KeyValuePair<string, long>(o.Domain, o.Version)).ToArray();

    /// <summary>Gets the model's <c>metadata_props</c> entries in file order (keys are not guaranteed unique by ONNX).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Metadata =>
        _proto.MetadataProps.Select(p => new KeyValuePair<string, string>(p.Key, p.Value)).ToArray();

    /// <summary>The validated protobuf message; never handed out, so the model stays immutable.</summary>
    internal ModelProto Proto => _proto;

    /// <summary>Reads a serialized model from <paramref name="stream"/> (from its current position to its end), parses and validates it with the default limits and a size limit.</summary>
    /// <param name="stream">The model bytes; read to the end and not disposed (the caller keeps ownership).</param>
    /// <param name="maxBytes">The largest accepted size in bytes, from 1 to 2,147,483,647 (the default, protobuf's limit).</param>
    /// <returns>The validated model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytes"/> is outside 1 to 2,147,483,647.</exception>
    /// <exception cref="InvalidModelException">The bytes are empty, too large, not a <c>ModelProto</c>, or not a valid model (see the remarks on <see cref="OnnxModel"/>); the message says which check failed, with the values, and what to do.</exception>
    public static OnnxModel Load(Stream stream, long maxBytes = OnnxModelOptions.DefaultMaxModelBytes) => new(LoadProto(stream, maxBytes));

    /// <summary>Reads a serialized model from <paramref name="stream"/> (from its current position to its end), parses and validates it.</summary>
    /// <param name="stream">The model bytes; read to the end and not disposed (the caller keeps ownership).</param>
    /// <param name="options">The size limit (<see cref="OnnxModelOptions.MaxModelBytes"/>) and the validation limits.</param>
    /// <returns>The validated model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="options"/> is invalid; the message quotes each invalid value.</exception>
    /// <exception cref="InvalidModelException">The bytes are empty, too large, not a <c>ModelProto</c>, or not a valid model (see the remarks on <see cref="OnnxModel"/>).</exception>
    public static OnnxModel Load(Stream stream, OnnxModelOptions options) => new(LoadProto(stream, options));

    /// <summary>Parses and validates a serialized model with the default limits. External tensor data is refused: bytes have no folder to resolve it against.</summary>
    /// <param name="data">The model bytes (at most 2,147,483,647, protobuf's limit); copied, so the caller keeps ownership.</param>
    /// <returns>The validated model.</returns>
    /// <exception cref="InvalidModelException">The bytes are empty, not a <c>ModelProto</c>, or not a valid model (see the remarks on <see cref="OnnxModel"/>).</exception>
    public static OnnxModel Load(ReadOnlySpan<byte> data) => new(LoadProto(data));

    /// <summary>Parses and validates a serialized model. External tensor data is refused: bytes have no folder to resolve it against.</summary>
    /// <param name="data">The model bytes; copied, so the caller keeps ownership.</param>
    /// <param name="options">The size limit (<see cref="OnnxModelOptions.MaxModelBytes"/>) and the validation limits.</param>
    /// <returns>The validated model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="options"/> is invalid; the message quotes each invalid value.</exception>
    /// <exception cref="InvalidModelException">The bytes are empty, larger than the limit, not a <c>ModelProto</c>, or not a valid model (see the remarks on <see cref="OnnxModel"/>).</exception>
    public static OnnxModel Load(ReadOnlySpan<byte> data, OnnxModelOptions options) => new(LoadProto(data, options));

    /// <summary>
    /// Reads a model file, parses and validates it, and checks its external tensor data (if any) against the file's
    /// folder: each <c>location</c> must be a normalised relative path that stays inside that folder after symbolic links
    /// are resolved, name a regular file, and give an <c>offset</c> and <c>length</c> inside it that hold exactly the
    /// tensor's bytes (onnx/docs/ExternalData.md). Call it before handing the same path to ONNX Runtime, which resolves
    /// external data against the model file's folder.
    /// </summary>
    /// <remarks>
    /// The check holds for the files as they are when it runs: load the model into ONNX Runtime from a folder that
    /// nobody else writes to (such as an immutable registry artifact), or the files could change in between.
    /// </remarks>
    /// <param name="path">The <c>.onnx</c> file.</param>
    /// <param name="options">The limits; <see langword="null"/> for the defaults.</param>
    /// <returns>The validated model (its external data is not loaded; <see cref="ToArray"/> writes the references, not the data).</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is <see langword="null"/> or empty, or <paramref name="options"/> is invalid.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="InvalidModelException">The file is not a valid model, or its external data breaks a rule above (or cannot be checked); the message names the tensor, the location and the rule.</exception>
    public static OnnxModel LoadFile(string path, OnnxModelOptions? options = null) => new(LoadProtoFile(path, options));

    /// <summary>
    /// Reads the signature: the graph inputs that are not initializers, in graph order, and the graph outputs. A
    /// dimension with <c>dim_value</c> is that value; one with <c>dim_param</c> (symbolic) or neither is <c>-1</c>.
    /// A tensor type without any shape (unknown rank) is reported with <see cref="TensorSpec.HasUnknownRank"/> set (any shape
    /// is accepted), not as a scalar. The result is read once and cached.
    /// </summary>
    /// <returns>The signature.</returns>
    /// <exception cref="InvalidModelException">An input or output is not a tensor, has no name, has an element type ModelKit does not support, or has a negative dimension.</exception>
    public ModelSignature ReadSignature() => _signature ??= ReadSignature(_proto);

    /// <summary>Serializes the model (protobuf binary, the <c>.onnx</c> file format).</summary>
    /// <returns>A new array the caller owns.</returns>
    public byte[] ToArray() => _proto.ToByteArray();

    /// <summary>Writes the serialized model (protobuf binary, the <c>.onnx</c> file format) to <paramref name="destination"/> at its current position.</summary>
    /// <param name="destination">A writable stream; not flushed or disposed (the caller keeps ownership).</param>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is <see langword="null"/>.</exception>
    /// <exception cref="IOException">Writing to <paramref name="destination"/> failed.</exception>
    public void WriteTo(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        _proto.WriteTo(destination);
    }

    /// <summary>Wraps a message that has just been validated (or built by ModelKit's exporter, which validates it).</summary>
    internal static OnnxModel FromValidatedProto(ModelProto proto) => new(proto);

    internal static bool IsDefaultDomain(string domain) => domain.Length == 0 || domain == "ai.onnx";

    private static ModelProto LoadCore(ReadOnlySpan<byte> data, OnnxModelOptions options, ExternalDataFolder? externalData)
    {
        if (data.IsEmpty)
        {
            throw new InvalidModelException($"The data is not an ONNX model: it is empty (0 bytes); {Expected}. Check that the file was written completely.");
        }

        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(data);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidModelException(
                $"The data is not an ONNX model: {Describe(data)} could not be parsed as protobuf ({ex.Message.TrimEnd('.')}); {Expected}.", ex);
        }

        ValidateCore(model, data, options, externalData);
        return model;
    }

    private static byte[] ReadAll(Stream stream, long maxBytes, out int length)
    {
        if (stream.CanSeek)
        {
            long remaining = stream.Length - stream.Position;
            if (remaining > maxBytes)
            {
                throw TooLarge(remaining.ToString("N0", CultureInfo.InvariantCulture), maxBytes);
            }
        }

        using var buffer = new MemoryStream();
        byte[] chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                throw TooLarge("more than " + maxBytes.ToString("N0", CultureInfo.InvariantCulture), maxBytes);
            }

            buffer.Write(chunk, 0, read);
        }

        length = (int)buffer.Length;
        return buffer.GetBuffer();
    }

    private static void ValidateCore(ModelProto model, ReadOnlySpan<byte> data, OnnxModelOptions options, ExternalDataFolder? externalData)
    {
        string what = data.IsEmpty ? "the model" : Describe(data);
        if (!model.HasIrVersion || model.IrVersion <= 0)
        {
            string found = model.HasIrVersion ? "ir_version " + model.IrVersion.ToString(CultureInfo.InvariantCulture) + ", expected 1 or greater" : "no ir_version";
            throw new InvalidModelException($"The data is not an ONNX model: {what} has {found}; {Expected}.");
        }

        if (model.Graph is null)
        {
            throw new InvalidModelException($"The data is not an ONNX model: {what} has no graph (ModelProto.graph is missing); {Expected}.");
        }

        if (model.OpsetImport.Count == 0)
        {
            throw new InvalidModelException($"The data is not an ONNX model: {what} imports no operator set (ModelProto.opset_import is empty); {Expected}.");
        }

        if (GetDefaultOpset(model) is not { } opset || opset < 1)
        {
            var domains = new List<string>();
            foreach (OperatorSetIdProto import in model.OpsetImport)
            {
                domains.Add(string.Create(CultureInfo.InvariantCulture, $"'{import.Domain}' v{import.Version}"));
            }

            throw new InvalidModelException(
                $"The ONNX model does not import the default operator set (domain '' or 'ai.onnx', version 1 or greater); it imports {string.Join(", ", domains)}. " +
                "Re-export the model with a default-domain opset_import, for example opset 17.");
        }

        GraphProto graph = model.Graph;
        OnnxModelWalker.Walk(model, options, externalData);
        ModelSignature signature = ReadSignature(model);
        if (signature.Inputs.Count == 0)
        {
            throw new InvalidModelException(
                $"The ONNX model's graph '{graph.Name}' has no inputs (other than initializers); a model needs at least one graph input to be run. Re-export it with its input tensors declared.");
        }

        if (signature.Outputs.Count == 0)
        {
            throw new InvalidModelException(
                $"The ONNX model's graph '{graph.Name}' has no outputs; a model needs at least one graph output. Re-export it with its output tensors declared.");
        }
    }

    private static TensorSpec ToTensorSpec(ValueInfoProto value, string kind)
    {
        if (string.IsNullOrEmpty(value.Name))
        {
            throw new InvalidModelException($"The ONNX model has a graph {kind} without a name; every graph input and output must be named. Re-export the model.");
        }

        if (value.Type is null || value.Type.ValueCase == TypeProto.ValueOneofCase.None)
        {
            throw new InvalidModelException(
                $"Graph {kind} '{value.Name}' of the ONNX model has no type; graph inputs and outputs must declare a tensor type. Re-export the model with types on its inputs and outputs.");
        }

        if (value.Type.ValueCase != TypeProto.ValueOneofCase.TensorType)
        {
            throw new InvalidModelException(
                $"Graph {kind} '{value.Name}' of the ONNX model is of type {DescribeType(value.Type)}, not a tensor; ModelKit supports only tensor inputs and outputs. " +
                "Change the model so that it takes and returns tensors (for example with a ZipMap-free export).");
        }

        TypeProto.Types.Tensor tensor = value.Type.TensorType;
        if (!TryGetElementType(tensor.ElemType, out TensorElementType elementType))
        {
            throw new InvalidModelException(
                $"Graph {kind} '{value.Name}' of the ONNX model has element type {DescribeDataType(tensor.ElemType)}, which ModelKit does not support; " +
                $"supported: {string.Join(", ", SupportedTypeNames())}. Convert the {kind} to one of them.");
        }

        if (tensor.Shape is null)
        {
            return TensorSpec.WithUnknownRank(value.Name, elementType);
        }

        long[] shape = new long[tensor.Shape.Dim.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            TensorShapeProto.Types.Dimension dim = tensor.Shape.Dim[i];
            if (dim.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue)
            {
                if (dim.DimValue < 0)
                {
                    throw new InvalidModelException(
                        $"Graph {kind} '{value.Name}' of the ONNX model has dimension {i} = {dim.DimValue}; dim_value must be 0 or greater (use dim_param for a dynamic dimension). Re-export the model.");
                }

                shape[i] = dim.DimValue;
            }
            else
            {
                shape[i] = -1;
            }
        }

        return new TensorSpec(value.Name, elementType, shape);
    }

    private static InvalidModelException TooLarge(string size, long maxBytes) =>
        new($"The ONNX model is {size} bytes, larger than the limit of {maxBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes (OnnxModelOptions.MaxModelBytes). " +
            "Raise the limit (protobuf's own limit is 2,147,483,647 bytes) or make the model smaller.");

    private static string Describe(ReadOnlySpan<byte> data)
    {
        string size = data.Length.ToString("N0", CultureInfo.InvariantCulture) + (data.Length == 1 ? " byte" : " bytes");
        string? kind =
            data.StartsWith(PngSignature) ? "a PNG image" :
            data.StartsWith(JpegSignature) ? "a JPEG image" :
            data.StartsWith(ZipSignature) ? "a ZIP archive (for example a PyTorch .pt checkpoint or a .zip file)" :
            data.StartsWith(GzipSignature) ? "gzip-compressed data (decompress it first)" :
            data.StartsWith(NumpySignature) ? "a NumPy .npy array" :
            data.StartsWith(Hdf5Signature) ? "an HDF5 file (for example a Keras .h5 model)" :
            data.StartsWith("version https://git-lfs"u8) ? "a Git LFS pointer file (fetch the real file with 'git lfs pull')" :
            LooksLikeText(data) ? "text" :
            null;
        return kind is null ? $"the input ({size})" : $"the input ({size}) looks like {kind} and";
    }

    private static bool LooksLikeText(ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<byte> head = data[..Math.Min(data.Length, 512)];
        foreach (byte b in head)
        {
            if (b < 0x20 && b is not ((byte)'\n' or (byte)'\r' or (byte)'\t'))
            {
                return false;
            }
        }

        // Valid UTF-8, allowing the cut at 512 bytes to split the last character.
        for (int trim = 0; trim < 4 && trim < head.Length; trim++)
        {
            if (System.Text.Unicode.Utf8.IsValid(head[..^trim]))
            {
                return true;
            }
        }

        return false;
    }

    private static string DescribeType(TypeProto type) => type.ValueCase switch
    {
        TypeProto.ValueOneofCase.SequenceType => "sequence",
        TypeProto.ValueOneofCase.MapType => "map",
        TypeProto.ValueOneofCase.OptionalType => "optional",
        TypeProto.ValueOneofCase.SparseTensorType => "sparse tensor",
        _ => type.ValueCase.ToString(),
    };

    private static string DescribeDataType(int dataType) =>
        Enum.IsDefined((TensorProto.Types.DataType)dataType)
            ? string.Create(CultureInfo.InvariantCulture, $"{((TensorProto.Types.DataType)dataType).ToString().ToUpperInvariant()} ({dataType})")
            : string.Create(CultureInfo.InvariantCulture, $"{dataType} (unknown)");

    private static IEnumerable<string> SupportedTypeNames()
    {
        foreach (TensorElementType type in Enum.GetValues<TensorElementType>())
        {
            if (type != TensorElementType.Undefined)
            {
                yield return type.ToString();
            }
        }
    }
}
