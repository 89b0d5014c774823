namespace ModelKit;

/// <summary>Base class of the exceptions that ModelKit throws for failures of its own domain.</summary>
public class ModelKitException : Exception
{
    /// <summary>Initializes a new instance with no message.</summary>
    public ModelKitException() { }

    /// <summary>Initializes a new instance with a message.</summary>
    /// <param name="message">What failed, with the values involved and what to do.</param>
    public ModelKitException(string message) : base(message) { }

    /// <summary>Initializes a new instance with a message and the exception that caused it.</summary>
    /// <param name="message">What failed, with the values involved and what to do.</param>
    /// <param name="innerException">The underlying failure.</param>
    public ModelKitException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>Thrown when a model reference names a model, version or alias that the registry does not hold.</summary>
public sealed class ModelNotFoundException : ModelKitException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="reference">The reference as the caller gave it, for example <c>fashion-mnist@production</c>.</param>
    /// <param name="message">What was not found and what to do.</param>
    public ModelNotFoundException(string reference, string message) : base(message) => Reference = reference;

    /// <summary>Gets the model reference that could not be resolved.</summary>
    public string Reference { get; }
}

/// <summary>
/// Thrown when a model artifact is not a valid model of its declared format (for example bytes that are
/// not an ONNX <c>ModelProto</c>, or a graph without inputs). Nothing is stored when this is thrown.
/// </summary>
public sealed class InvalidModelException : ModelKitException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What is wrong with the artifact and what to do.</param>
    public InvalidModelException(string message) : base(message) { }

    /// <summary>Initializes a new instance with the parser failure that caused it.</summary>
    /// <param name="message">What is wrong with the artifact and what to do.</param>
    /// <param name="innerException">The parser failure.</param>
    public InvalidModelException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// Thrown when inference inputs do not match the model signature: an unknown or missing input name, a
/// wrong element type, or a shape that does not fit the declared shape.
/// </summary>
public sealed class InferenceInputException : ModelKitException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="inputName">The offending input's name.</param>
    /// <param name="message">The input, the expected and the actual value, and what to do.</param>
    public InferenceInputException(string inputName, string message) : base(message) => InputName = inputName;

    /// <summary>Gets the name of the input that does not match the signature.</summary>
    public string InputName { get; }
}

/// <summary>
/// Thrown when a native engine (ONNX Runtime, libtorch) reports an error, or cannot be loaded. The message
/// carries the engine's own text.
/// </summary>
public sealed class NativeEngineException : ModelKitException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="engine">The engine, for example <c>ONNX Runtime</c> or <c>libtorch</c>.</param>
    /// <param name="operation">The native operation that failed, for example <c>CreateSession</c>.</param>
    /// <param name="errorCode">The engine's status or error code.</param>
    /// <param name="message">The full message, including the engine's text.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public NativeEngineException(string engine, string operation, int errorCode, string message, Exception? innerException = null)
        : base(message, innerException!)
    {
        Engine = engine;
        Operation = operation;
        ErrorCode = errorCode;
    }

    /// <summary>Gets the engine that reported the error.</summary>
    public string Engine { get; }

    /// <summary>Gets the native operation that failed.</summary>
    public string Operation { get; }

    /// <summary>Gets the engine's status or error code (engine-specific; 0 when the library could not be loaded).</summary>
    public int ErrorCode { get; }
}
