using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>One requested output: its name and whether it goes back in the binary tensor data extension.</summary>
internal readonly record struct OipRequestedOutput(string Name, bool Binary);

/// <summary>A decoded inference request, JSON or binary extension (REST) or protobuf (gRPC).</summary>
internal sealed class OipInferenceRequest
{
    public string? Id { get; set; }

    public List<NamedTensor> Inputs { get; } = [];

    public List<OipRequestedOutput>? Outputs { get; set; }

    public bool BinaryDataOutput { get; set; }

    public long? TimeoutMicroseconds { get; set; }

    public InferencePriority Priority { get; set; }
}

/// <summary>Limits on one request; see <see cref="InferenceEndpointsOptions"/>.</summary>
internal readonly record struct OipLimits(long MaxElementCount, int MaxInputCount, int MaxStringBytes);

/// <summary>
/// Reads and writes the JSON body of the Open Inference Protocol v2 REST API (specification/protocol/inference_rest.md
/// in kserve/open-inference-protocol) and its binary tensor data extension (Triton's binary_data extension:
/// <c>Inference-Header-Content-Length</c>, <c>binary_data_size</c>, <c>binary_data</c>, <c>binary_data_output</c>).
/// Tensors are decoded straight from a <see cref="Utf8JsonReader"/> into typed arrays: no DOM, no boxing.
/// </summary>
internal static class OipJsonCodec
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64, CommentHandling = JsonCommentHandling.Disallow };

    /// <summary>Decodes a request; every refusal is an <see cref="InferenceProtocolException"/> with status 400.</summary>
    /// <param name="json">The JSON part of the body.</param>
    /// <param name="binary">The binary part (after <c>Inference-Header-Content-Length</c> bytes); empty without the extension.</param>
    /// <param name="hasBinaryPart">Whether the request used the binary extension header.</param>
    /// <param name="limits">Size limits.</param>
    public static OipInferenceRequest ReadRequest(ReadOnlySpan<byte> json, ReadOnlySpan<byte> binary, bool hasBinaryPart, OipLimits limits)
    {
        var request = new OipInferenceRequest();
        var reader = new Utf8JsonReader(json, ReaderOptions);
        long binaryOffset = 0;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw InferenceProtocolException.BadRequest("The request body must be a JSON object with an 'inputs' array, for example {\"inputs\":[{\"name\":\"input\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}.");
            }

            bool sawInputs = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    request.Id = reader.TokenType == JsonTokenType.String
                        ? reader.GetString()
                        : throw InferenceProtocolException.BadRequest($"The request 'id' must be a string; it is {Describe(reader.TokenType)}.");
                }
                else if (reader.ValueTextEquals("parameters"u8))
                {
                    reader.Read();
                    ReadRequestParameters(ref reader, request);
                }
                else if (reader.ValueTextEquals("inputs"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        throw InferenceProtocolException.BadRequest($"'inputs' must be an array of input tensors; it is {Describe(reader.TokenType)}.");
                    }

                    sawInputs = true;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (request.Inputs.Count >= limits.MaxInputCount)
                        {
                            throw InferenceProtocolException.BadRequest(string.Create(CultureInfo.InvariantCulture, $"The request has more than {limits.MaxInputCount} inputs, the most the server accepts."));
                        }

                        NamedTensor input = ReadInput(ref reader, json.Length, binary, hasBinaryPart, ref binaryOffset, limits);
                        foreach (NamedTensor other in request.Inputs)
                        {
                            if (other.Name == input.Name)
                            {
                                throw InferenceProtocolException.BadRequest($"Input '{input.Name}' appears twice in the request; send each input once.");
                            }
                        }

                        request.Inputs.Add(input);
                    }
                }
                else if (reader.ValueTextEquals("outputs"u8))
                {
                    reader.Read();
                    request.Outputs = ReadRequestedOutputs(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                throw InferenceProtocolException.BadRequest("The request body holds more than one JSON value; send exactly one JSON object.");
            }

            if (!sawInputs)
            {
                throw InferenceProtocolException.BadRequest("The request has no 'inputs' array; send one entry per model input with name, shape, datatype and data.");
            }
        }
        catch (JsonException ex)
        {
            throw InferenceProtocolException.BadRequest($"The request body is not valid JSON: {ex.Message}");
        }
        catch (InvalidOperationException ex) when (ex.InnerException is DecoderFallbackException)
        {
            throw InferenceProtocolException.BadRequest("The request body holds a JSON string that is not valid UTF-8; send UTF-8 text.");
        }

        if (binaryOffset != binary.Length)
        {
            throw InferenceProtocolException.BadRequest(string.Create(
                CultureInfo.InvariantCulture,
                $"The binary part of the request holds {binary.Length} bytes but the inputs' binary_data_size values add up to {binaryOffset}; they must be equal."));
        }

        return request;
    }

    private static void ReadRequestParameters(ref Utf8JsonReader reader, OipInferenceRequest request)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw InferenceProtocolException.BadRequest($"The request 'parameters' must be an object; it is {Describe(reader.TokenType)}.");
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("binary_data_output"u8))
            {
                reader.Read();
                request.BinaryDataOutput = ReadBool(ref reader, "parameters.binary_data_output");
            }
            else if (reader.ValueTextEquals("timeout"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long micros) || micros <= 0)
                {
                    throw InferenceProtocolException.BadRequest("The request parameter 'timeout' must be a positive whole number of microseconds.");
                }

                request.TimeoutMicroseconds = micros;
            }
            else if (reader.ValueTextEquals("priority"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long priority) || priority is < 0 or > 2)
                {
                    throw InferenceProtocolException.BadRequest("The request parameter 'priority' must be 0 (default), 1 (high) or 2 (normal).");
                }

                request.Priority = priority == 1 ? InferencePriority.High : InferencePriority.Normal;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private static List<OipRequestedOutput> ReadRequestedOutputs(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw InferenceProtocolException.BadRequest($"'outputs' must be an array of {{\"name\": …}} objects; it is {Describe(reader.TokenType)}.");
        }

        var outputs = new List<OipRequestedOutput>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw InferenceProtocolException.BadRequest($"Each entry of 'outputs' must be an object with a 'name'; one is {Describe(reader.TokenType)}.");
            }

            string? name = null;
            bool binary = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("name"u8))
                {
                    reader.Read();
                    name = reader.TokenType == JsonTokenType.String ? reader.GetString() : throw InferenceProtocolException.BadRequest("A requested output's 'name' must be a string.");
                }
                else if (reader.ValueTextEquals("parameters"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        throw InferenceProtocolException.BadRequest("A requested output's 'parameters' must be an object.");
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        bool isBinary = reader.ValueTextEquals("binary_data"u8);
                        reader.Read();
                        if (isBinary)
                        {
                            binary = ReadBool(ref reader, "outputs[].parameters.binary_data");
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            outputs.Add(new OipRequestedOutput(name ?? throw InferenceProtocolException.BadRequest("A requested output has no 'name'."), binary));
        }

        return outputs;
    }

    private static NamedTensor ReadInput(ref Utf8JsonReader reader, int jsonLength, ReadOnlySpan<byte> binary, bool hasBinaryPart, ref long binaryOffset, OipLimits limits)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw InferenceProtocolException.BadRequest($"Each entry of 'inputs' must be an object with name, shape, datatype and data; one is {Describe(reader.TokenType)}.");
        }

        string? name = null;
        string? datatype = null;
        List<long>? shape = null;
        long? binarySize = null;
        Utf8JsonReader data = default;
        bool hasData = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("name"u8))
            {
                reader.Read();
                name = reader.TokenType == JsonTokenType.String ? reader.GetString() : throw InferenceProtocolException.BadRequest($"An input's 'name' must be a string; it is {Describe(reader.TokenType)}.");
            }
            else if (reader.ValueTextEquals("datatype"u8))
            {
                reader.Read();
                datatype = reader.TokenType == JsonTokenType.String ? reader.GetString() : throw InferenceProtocolException.BadRequest($"An input's 'datatype' must be a string such as \"FP32\"; it is {Describe(reader.TokenType)}.");
            }
            else if (reader.ValueTextEquals("shape"u8))
            {
                reader.Read();
                shape = ReadShape(ref reader, name);
            }
            else if (reader.ValueTextEquals("parameters"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    throw InferenceProtocolException.BadRequest($"The 'parameters' of input '{name}' must be an object.");
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool isSize = reader.ValueTextEquals("binary_data_size"u8);
                    reader.Read();
                    if (isSize)
                    {
                        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long size) || size < 0)
                        {
                            throw InferenceProtocolException.BadRequest($"The binary_data_size of input '{name}' must be a whole number of bytes, 0 or more.");
                        }

                        binarySize = size;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                reader.Read();
                data = reader;
                hasData = true;
                reader.Skip();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (name is null)
        {
            throw InferenceProtocolException.BadRequest("An input has no 'name'; every input needs name, shape, datatype and data.");
        }

        if (shape is null)
        {
            throw InferenceProtocolException.BadRequest($"Input '{name}' has no 'shape'; give its dimensions, for example [1, 784].");
        }

        if (!OipTensors.TryParseDatatype(datatype, out TensorElementType type))
        {
            throw InferenceProtocolException.BadRequest(datatype is null ? $"Input '{name}' has no 'datatype'; give one such as \"FP32\"." : OipTensors.UnknownDatatypeMessage(name, datatype));
        }

        long[] dims = [.. shape];
        long count = OipTensors.ElementCount(name, dims, limits.MaxElementCount);
        if (binarySize is long size2)
        {
            if (!hasBinaryPart)
            {
                throw InferenceProtocolException.BadRequest($"Input '{name}' has binary_data_size but the request has no Inference-Header-Content-Length header; send the header with the JSON part's length in bytes.");
            }

            if (hasData)
            {
                throw InferenceProtocolException.BadRequest($"Input '{name}' has both 'data' and binary_data_size; send its data in one place.");
            }

            if (size2 > binary.Length - binaryOffset)
            {
                throw InferenceProtocolException.BadRequest(string.Create(
                    CultureInfo.InvariantCulture,
                    $"Input '{name}' declares binary_data_size {size2}, but only {binary.Length - binaryOffset} bytes of binary data remain after the inputs before it."));
            }

            Tensor fromRaw = OipTensors.FromRaw(name, type, dims, count, binary.Slice((int)binaryOffset, (int)size2), limits.MaxStringBytes);
            binaryOffset += size2;
            return new NamedTensor(name, fromRaw);
        }

        if (!hasData)
        {
            throw InferenceProtocolException.BadRequest($"Input '{name}' has no 'data' (and no binary_data_size); send its elements flat, in row-major order.");
        }

        // Every JSON element takes at least one byte: a count the body cannot hold is refused before allocating.
        if (count > jsonLength)
        {
            throw InferenceProtocolException.BadRequest(string.Create(
                CultureInfo.InvariantCulture,
                $"Input '{name}' has shape {TensorSpec.FormatShape(dims)} ({count} elements), more than its 'data' can hold; the data must hold exactly the elements the shape declares."));
        }

        Tensor tensor = type switch
        {
            TensorElementType.Bool => Tensor.Create<bool>(ReadData<bool>(ref data, name, type, dims, count, limits), dims),
            TensorElementType.UInt8 => Tensor.Create<byte>(ReadData<byte>(ref data, name, type, dims, count, limits), dims),
            TensorElementType.Int8 => Tensor.Create<sbyte>(ReadData<sbyte>(ref data, name, type, dims, count, limits), dims),
            TensorElementType.UInt16 => Tensor.Create<ushort>(ReadData<ushort>(ref data, name, type, dims, count, limits), dims),
            TensorElementType.Int16 => Tensor.Create<short>(ReadData<short>(ref data, name, type, dims, count, limits), dims),
            TensorElementType.UInt32 => Tensor.Create<uint>(ReadData<uint>(ref data, name, type, dims, count, limits), dims),
            TensorElementType.Int32 => Tensor.Create<int>(ReadData<int>(ref data, name, type, dims, count, limits), dims),
            TensorElementType.UInt64 => Tensor.Create<ulong>(ReadData<ulong>(ref data, name, type, dims, count, limits), dims),
            TensorElementType.Int64 => Tensor.Create<long>(ReadData<long>(ref data, name, type, dims, count, limits), dims),
            TensorElementType.Float16 => Tensor.Create<Half>(ReadData<Half>(ref data, name, type, dims, count, limits), dims),
            TensorElementType.BFloat16 => Tensor.Create<BFloat16>(ReadData<BFloat16>(ref data, name, type, dims, count, limits), dims),
            TensorElementType.Float => Tensor.Create<float>(ReadData<float>(ref data, name, type, dims, count, limits), dims),
            TensorElementType.Double => Tensor.Create<double>(ReadData<double>(ref data, name, type, dims, count, limits), dims),
            _ => StringTensor.Create(ReadStrings(ref data, name, dims, count, limits), dims),
        };
        return new NamedTensor(name, tensor);
    }

    private static List<long> ReadShape(ref Utf8JsonReader reader, string? name)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw InferenceProtocolException.BadRequest($"The 'shape' of input '{name}' must be an array of whole numbers; it is {Describe(reader.TokenType)}.");
        }

        var shape = new List<long>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long d))
            {
                throw InferenceProtocolException.BadRequest($"The 'shape' of input '{name}' holds {Describe(reader.TokenType)}; every dimension must be a whole number, 0 or more.");
            }

            if (shape.Count >= 64)
            {
                throw InferenceProtocolException.BadRequest($"The 'shape' of input '{name}' has more than 64 dimensions.");
            }

            shape.Add(d);
        }

        return shape;
    }

    private static T[] ReadData<T>(ref Utf8JsonReader reader, string name, TensorElementType type, long[] shape, long count, OipLimits limits)
        where T : unmanaged
    {
        var values = new T[count];
        long i = 0;
        int depth = 0;
        do
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                    depth++;
                    break;
                case JsonTokenType.EndArray:
                    depth--;
                    break;
                default:
                    if (i >= count)
                    {
                        throw CountMismatch(name, type, shape, count, null);
                    }

                    values[i] = ReadElement<T>(ref reader, name, type, i);
                    i++;
                    break;
            }
        }
        while (depth > 0 && reader.Read());

        if (i != count)
        {
            throw CountMismatch(name, type, shape, count, i);
        }

        return values;
    }

    private static string[] ReadStrings(ref Utf8JsonReader reader, string name, long[] shape, long count, OipLimits limits)
    {
        var values = new string[count];
        long i = 0;
        int depth = 0;
        do
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                    depth++;
                    break;
                case JsonTokenType.EndArray:
                    depth--;
                    break;
                case JsonTokenType.String:
                    if (i >= count)
                    {
                        throw CountMismatch(name, TensorElementType.String, shape, count, null);
                    }

                    if (reader.ValueSpan.Length > (long)limits.MaxStringBytes * 6)
                    {
                        throw StringTooLong(name, i, limits.MaxStringBytes);
                    }

                    string s = reader.GetString()!;
                    if (Encoding.UTF8.GetByteCount(s) > limits.MaxStringBytes)
                    {
                        throw StringTooLong(name, i, limits.MaxStringBytes);
                    }

                    values[i++] = s;
                    break;
                default:
                    throw WrongElement(name, TensorElementType.String, i, reader.TokenType);
            }
        }
        while (depth > 0 && reader.Read());

        if (i != count)
        {
            throw CountMismatch(name, TensorElementType.String, shape, count, i);
        }

        return values;
    }

    private static T ReadElement<T>(ref Utf8JsonReader reader, string name, TensorElementType type, long index)
        where T : unmanaged
    {
        if (typeof(T) == typeof(bool))
        {
            return reader.TokenType switch
            {
                JsonTokenType.True => (T)(object)true,
                JsonTokenType.False => (T)(object)false,
                _ => throw WrongElement(name, type, index, reader.TokenType),
            };
        }

        if (typeof(T) == typeof(float) || typeof(T) == typeof(double) || typeof(T) == typeof(Half) || typeof(T) == typeof(BFloat16))
        {
            double d;
            if (reader.TokenType == JsonTokenType.Number)
            {
                if (!reader.TryGetDouble(out d))
                {
                    throw WrongElement(name, type, index, reader.TokenType);
                }
            }
            else if (reader.TokenType == JsonTokenType.String && TryReadNonFinite(ref reader, out d))
            {
            }
            else
            {
                throw WrongElement(name, type, index, reader.TokenType);
            }

            if (typeof(T) == typeof(double))
            {
                return (T)(object)d;
            }

            if (typeof(T) == typeof(float))
            {
                return (T)(object)(float)d;
            }

            if (typeof(T) == typeof(Half))
            {
                return (T)(object)(Half)d;
            }

            return (T)(object)(BFloat16)(float)d;
        }

        if (reader.TokenType != JsonTokenType.Number)
        {
            throw WrongElement(name, type, index, reader.TokenType);
        }

        if (typeof(T) == typeof(ulong))
        {
            return reader.TryGetUInt64(out ulong u) ? (T)(object)u : throw OutOfRange(name, type, index);
        }

        if (!reader.TryGetInt64(out long v))
        {
            throw OutOfRange(name, type, index);
        }

        if (typeof(T) == typeof(long))
        {
            return (T)(object)v;
        }

        if (typeof(T) == typeof(int))
        {
            return v is >= int.MinValue and <= int.MaxValue ? (T)(object)(int)v : throw OutOfRange(name, type, index);
        }

        if (typeof(T) == typeof(uint))
        {
            return v is >= 0 and <= uint.MaxValue ? (T)(object)(uint)v : throw OutOfRange(name, type, index);
        }

        if (typeof(T) == typeof(short))
        {
            return v is >= short.MinValue and <= short.MaxValue ? (T)(object)(short)v : throw OutOfRange(name, type, index);
        }

        if (typeof(T) == typeof(ushort))
        {
            return v is >= 0 and <= ushort.MaxValue ? (T)(object)(ushort)v : throw OutOfRange(name, type, index);
        }

        if (typeof(T) == typeof(sbyte))
        {
            return v is >= sbyte.MinValue and <= sbyte.MaxValue ? (T)(object)(sbyte)v : throw OutOfRange(name, type, index);
        }

        return v is >= 0 and <= byte.MaxValue ? (T)(object)(byte)v : throw OutOfRange(name, type, index);
    }

    private static bool TryReadNonFinite(ref Utf8JsonReader reader, out double value)
    {
        value = reader.ValueTextEquals("NaN"u8) ? double.NaN
            : reader.ValueTextEquals("Infinity"u8) || reader.ValueTextEquals("inf"u8) ? double.PositiveInfinity
            : reader.ValueTextEquals("-Infinity"u8) || reader.ValueTextEquals("-inf"u8) ? double.NegativeInfinity
            : 0;
        return value != 0;
    }

    private static bool ReadBool(ref Utf8JsonReader reader, string what) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        _ => throw InferenceProtocolException.BadRequest($"'{what}' must be true or false; it is {Describe(reader.TokenType)}."),
    };

    private static InferenceProtocolException CountMismatch(string name, TensorElementType type, long[] shape, long count, long? actual) =>
        InferenceProtocolException.BadRequest(string.Create(
            CultureInfo.InvariantCulture,
            $"Input '{name}' has shape {TensorSpec.FormatShape(shape)}, which holds {count} elements, but its 'data' holds {(actual is long a ? a.ToString(CultureInfo.InvariantCulture) : "more")}; send exactly {count} {OipTensors.Datatype(type)} values, flat or nested, in row-major order."));

    private static InferenceProtocolException WrongElement(string name, TensorElementType type, long index, JsonTokenType token) =>
        InferenceProtocolException.BadRequest(string.Create(
            CultureInfo.InvariantCulture,
            $"Input '{name}' is {OipTensors.Datatype(type)} but element {index} of its 'data' is {Describe(token)}; send {ExpectedElement(type)}."));

    private static InferenceProtocolException OutOfRange(string name, TensorElementType type, long index) =>
        InferenceProtocolException.BadRequest(string.Create(
            CultureInfo.InvariantCulture,
            $"Input '{name}' is {OipTensors.Datatype(type)} but element {index} of its 'data' is not a whole number within that type's range."));

    private static InferenceProtocolException StringTooLong(string name, long index, int max) =>
        InferenceProtocolException.BadRequest(string.Create(CultureInfo.InvariantCulture, $"Element {index} of input '{name}' is longer than {max} bytes, the most a BYTES element may hold."));

    private static string ExpectedElement(TensorElementType type) => type switch
    {
        TensorElementType.Bool => "true or false",
        TensorElementType.String => "strings",
        TensorElementType.Float or TensorElementType.Double or TensorElementType.Float16 or TensorElementType.BFloat16 => "numbers (or \"NaN\", \"Infinity\", \"-Infinity\")",
        _ => "whole numbers",
    };

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        _ => token.ToString(),
    };

    /// <summary>
    /// Writes the JSON part of an inference response. Outputs whose <paramref name="binary"/> flag is set get
    /// <c>parameters.binary_data_size</c> instead of <c>data</c>; the caller appends their raw bytes in output order.
    /// </summary>
    public static void WriteResponse(Utf8JsonWriter writer, string modelName, int modelVersion, string? id, IReadOnlyList<NamedTensor> outputs, ReadOnlySpan<bool> binary)
    {
        writer.WriteStartObject();
        writer.WriteString("model_name"u8, modelName);
        writer.WriteString("model_version"u8, modelVersion.ToString(CultureInfo.InvariantCulture));
        if (id is not null)
        {
            writer.WriteString("id"u8, id);
        }

        writer.WriteStartArray("outputs"u8);
        for (int o = 0; o < outputs.Count; o++)
        {
            NamedTensor output = outputs[o];
            writer.WriteStartObject();
            writer.WriteString("name"u8, output.Name);
            writer.WriteString("datatype"u8, OipTensors.Datatype(output.Value.ElementType));
            writer.WriteStartArray("shape"u8);
            foreach (long d in output.Value.Shape)
            {
                writer.WriteNumberValue(d);
            }

            writer.WriteEndArray();
            if (binary[o])
            {
                writer.WriteStartObject("parameters"u8);
                writer.WriteNumber("binary_data_size"u8, OipTensors.RawLength(output.Value));
                writer.WriteEndObject();
            }
            else
            {
                writer.WritePropertyName("data"u8);
                WriteData(writer, output.Value);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>Writes a tensor's elements as one flat JSON array; non-finite floating-point values as "NaN", "Infinity", "-Infinity".</summary>
    public static void WriteData(Utf8JsonWriter writer, Tensor tensor)
    {
        writer.WriteStartArray();
        switch (tensor)
        {
            case Tensor<float> t: foreach (float v in t.Span) { WriteFloating(writer, v); } break;
            case Tensor<double> t: foreach (double v in t.Span) { WriteFloating(writer, v); } break;
            case Tensor<Half> t: foreach (Half v in t.Span) { WriteFloating(writer, (float)v); } break;
            case Tensor<BFloat16> t: foreach (BFloat16 v in t.Span) { WriteFloating(writer, (float)v); } break;
            case Tensor<long> t: foreach (long v in t.Span) { writer.WriteNumberValue(v); } break;
            case Tensor<int> t: foreach (int v in t.Span) { writer.WriteNumberValue(v); } break;
            case Tensor<short> t: foreach (short v in t.Span) { writer.WriteNumberValue(v); } break;
            case Tensor<sbyte> t: foreach (sbyte v in t.Span) { writer.WriteNumberValue(v); } break;
            case Tensor<ulong> t: foreach (ulong v in t.Span) { writer.WriteNumberValue(v); } break;
            case Tensor<uint> t: foreach (uint v in t.Span) { writer.WriteNumberValue(v); } break;
            case Tensor<ushort> t: foreach (ushort v in t.Span) { writer.WriteNumberValue(v); } break;
            case Tensor<byte> t: foreach (byte v in t.Span) { writer.WriteNumberValue(v); } break;
            case Tensor<bool> t: foreach (bool v in t.Span) { writer.WriteBooleanValue(v); } break;
            case StringTensor t: foreach (string v in t.Span) { writer.WriteStringValue(v); } break;
            default: throw new NotSupportedException($"Output element type {tensor.ElementType} cannot be written as JSON.");
        }

        writer.WriteEndArray();
    }

    private static void WriteFloating(Utf8JsonWriter writer, float v)
    {
        if (float.IsFinite(v))
        {
            writer.WriteNumberValue(v);
        }
        else
        {
            writer.WriteStringValue(float.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
        }
    }

    private static void WriteFloating(Utf8JsonWriter writer, double v)
    {
        if (double.IsFinite(v))
        {
            writer.WriteNumberValue(v);
        }
        else
        {
            writer.WriteStringValue(double.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
        }
    }

    /// <summary>Writes <c>{"error": message}</c>, the protocol's error body.</summary>
    public static byte[] ErrorBody(string message)
    {
        var buffer = new ArrayBufferWriter<byte>(128 + message.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("error"u8, message);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
