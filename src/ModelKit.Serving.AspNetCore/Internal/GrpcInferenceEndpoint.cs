using System.Globalization;

using Google.Protobuf;
using Google.Protobuf.Collections;
using Grpc.Core;
using ModelKit.Registry;
using ModelKit.Serving.AspNetCore.Protocol;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>
/// The Open Inference Protocol v2 over gRPC (service <c>inference.GRPCInferenceService</c>, from
/// specification/protocol/inference_grpc.md). Typed <c>contents</c> or <c>raw_input_contents</c> in; the same form out
/// (FP16 and BF16, which have no typed field, always go out raw). The call's deadline and cancellation reach the batcher.
/// </summary>
internal sealed class GrpcInferenceEndpoint(InferenceEndpointHandler handler, ModelRepositoryExtension repository) : GRPCInferenceService.GRPCInferenceServiceBase
{
    public override async Task<RepositoryIndexResponse> RepositoryIndex(RepositoryIndexRequest request, ServerCallContext context)
    {
        await AuthorizeRepositoryCallAsync(context);
        try
        {
            var response = new RepositoryIndexResponse();
            foreach (RepositoryIndexEntry entry in await repository.IndexAsync(request.Ready, context.CancellationToken))
            {
                response.Models.Add(new RepositoryIndexResponse.Types.ModelIndex { Name = entry.Name, Version = entry.Version, State = entry.State, Reason = entry.Reason });
            }

            return response;
        }
        catch (Exception ex) when (ex is not RpcException and not OutOfMemoryException)
        {
            throw ToRpc(ex, "");
        }
    }

    public override async Task<RepositoryModelLoadResponse> RepositoryModelLoad(RepositoryModelLoadRequest request, ServerCallContext context)
    {
        await AuthorizeRepositoryCallAsync(context);
        try
        {
            string? version = ModelRepositoryExtension.CheckParameters(Parameters(request.Parameters), unload: false);
            await repository.LoadAsync(request.ModelName, version, context.CancellationToken);
            return new RepositoryModelLoadResponse();
        }
        catch (Exception ex) when (ex is not RpcException and not OutOfMemoryException)
        {
            throw ToRpc(ex, request.ModelName);
        }
    }

    public override async Task<RepositoryModelUnloadResponse> RepositoryModelUnload(RepositoryModelUnloadRequest request, ServerCallContext context)
    {
        await AuthorizeRepositoryCallAsync(context);
        try
        {
            string? version = ModelRepositoryExtension.CheckParameters(Parameters(request.Parameters), unload: true);
            await repository.UnloadAsync(request.ModelName, version, context.CancellationToken);
            return new RepositoryModelUnloadResponse();
        }
        catch (Exception ex) when (ex is not RpcException and not OutOfMemoryException)
        {
            throw ToRpc(ex, request.ModelName);
        }
    }

    private void ThrowIfRepositoryDisabled()
    {
        if (!repository.Enabled)
        {
            throw new RpcException(new Status(StatusCode.Unimplemented, "The model repository extension is not enabled on this server; the host enables it with app.MapModelKitRepository()."));
        }
    }

    private async Task AuthorizeRepositoryCallAsync(ServerCallContext context)
    {
        ThrowIfRepositoryDisabled();
        (bool allowed, bool authenticated) = await repository.AuthorizeAsync(context.GetHttpContext());
        if (!allowed)
        {
            throw new RpcException(authenticated
                ? new Status(StatusCode.PermissionDenied, $"The caller does not satisfy the management policy '{handler.Options.ManagementPolicy}' that the model repository extension requires.")
                : new Status(StatusCode.Unauthenticated, "The model repository extension (index, load, unload) requires an authenticated caller (the management policy); send the credentials the server's authentication scheme expects."));
        }
    }

    private static IEnumerable<KeyValuePair<string, object?>> Parameters(MapField<string, ModelRepositoryParameter> parameters) =>
        parameters.Select(p => new KeyValuePair<string, object?>(p.Key, p.Value.ParameterChoiceCase switch
        {
            ModelRepositoryParameter.ParameterChoiceOneofCase.StringParam => p.Value.StringParam,
            ModelRepositoryParameter.ParameterChoiceOneofCase.BoolParam => p.Value.BoolParam,
            ModelRepositoryParameter.ParameterChoiceOneofCase.Int64Param => p.Value.Int64Param,
            _ => null,
        }));

    public override Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerLiveResponse { Live = true });

    public override Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerReadyResponse { Ready = handler.IsServerReady });

    public override async Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context)
    {
        try
        {
            ModelReference reference = await handler.ResolveReferenceAsync(request.Name, request.Version, context.CancellationToken);
            return new ModelReadyResponse { Ready = await handler.IsLoadedAsync(reference, context.CancellationToken) };
        }
        catch (Exception ex) when (ex is not RpcException and not OutOfMemoryException)
        {
            throw ToRpc(ex, request.Name);
        }
    }

    public override Task<ServerMetadataResponse> ServerMetadata(ServerMetadataRequest request, ServerCallContext context)
    {
        var response = new ServerMetadataResponse { Name = handler.Options.ServerName, Version = OipRestEndpoints.ServerVersion };
        response.Extensions.AddRange(repository.Extensions);
        return Task.FromResult(response);
    }

    public override async Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context)
    {
        try
        {
            ModelReference reference = await handler.ResolveReferenceAsync(request.Name, request.Version, context.CancellationToken);
            OipModelMetadata metadata = await handler.GetMetadataAsync(reference, context.CancellationToken);
            var response = new ModelMetadataResponse { Name = metadata.Name, Platform = OipTensors.Platform };
            response.Versions.AddRange(metadata.Versions);
            foreach (TensorSpec spec in metadata.Inputs)
            {
                response.Inputs.Add(ToMetadata(spec));
            }

            foreach (TensorSpec spec in metadata.Outputs)
            {
                response.Outputs.Add(ToMetadata(spec));
            }

            return response;
        }
        catch (Exception ex) when (ex is not RpcException and not OutOfMemoryException)
        {
            throw ToRpc(ex, request.Name);
        }
    }

    public override async Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context)
    {
        int status = 200;
        try
        {
            OipInferenceRequest decoded = Decode(request, handler.Limits);
            ModelReference reference = await handler.ResolveReferenceAsync(request.ModelName, request.ModelVersion, context.CancellationToken);
            DateTimeOffset? deadline = context.Deadline == DateTime.MaxValue ? null : new DateTimeOffset(DateTime.SpecifyKind(context.Deadline, DateTimeKind.Utc));
            InferenceResult result = await handler.InferAsync(reference, decoded, deadline, context.CancellationToken);
            (List<NamedTensor> outputs, _) = InferenceEndpointHandler.SelectOutputs(request.ModelName, result, decoded);
            return Encode(request, result.ModelVersion.Version, outputs);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            RpcException rpc = ex as RpcException ?? ToRpc(ex, request.ModelName);
            status = rpc.StatusCode switch
            {
                StatusCode.InvalidArgument => 400,
                StatusCode.NotFound => 404,
                StatusCode.ResourceExhausted => 429,
                StatusCode.Unavailable => 503,
                StatusCode.DeadlineExceeded => 504,
                StatusCode.Cancelled => 499,
                _ => 500,
            };
            throw rpc;
        }
        finally
        {
            handler.CountRequest("grpc", status);
        }
    }

    private RpcException ToRpc(Exception ex, string model)
    {
        (int status, string message) = handler.Classify(ex, "grpc", model);
        StatusCode code = status switch
        {
            400 => StatusCode.InvalidArgument,
            404 => StatusCode.NotFound,
            413 or 429 => StatusCode.ResourceExhausted,
            499 => StatusCode.Cancelled,
            501 => StatusCode.Unimplemented,
            503 => StatusCode.Unavailable,
            504 => StatusCode.DeadlineExceeded,
            _ => StatusCode.Internal,
        };
        return new RpcException(new Status(code, message));
    }

    private static ModelMetadataResponse.Types.TensorMetadata ToMetadata(TensorSpec spec)
    {
        var metadata = new ModelMetadataResponse.Types.TensorMetadata { Name = spec.Name, Datatype = OipTensors.Datatype(spec.ElementType) };
        metadata.Shape.AddRange(spec.Shape);
        return metadata;
    }

    internal static OipInferenceRequest Decode(ModelInferRequest request, OipLimits limits)
    {
        var decoded = new OipInferenceRequest { Id = request.Id };
        if (request.Inputs.Count > limits.MaxInputCount)
        {
            throw InferenceProtocolException.BadRequest(string.Create(CultureInfo.InvariantCulture, $"The request has {request.Inputs.Count} inputs, more than the {limits.MaxInputCount} the server accepts."));
        }

        bool raw = request.RawInputContents.Count > 0;
        if (raw && request.RawInputContents.Count != request.Inputs.Count)
        {
            throw InferenceProtocolException.BadRequest(string.Create(
                CultureInfo.InvariantCulture,
                $"The request has {request.Inputs.Count} inputs but {request.RawInputContents.Count} raw_input_contents entries; send one entry per input, in input order, or none."));
        }

        if (request.Parameters.TryGetValue("timeout", out InferParameter? timeout))
        {
            decoded.TimeoutMicroseconds = timeout.ParameterChoiceCase switch
            {
                InferParameter.ParameterChoiceOneofCase.Int64Param when timeout.Int64Param > 0 => timeout.Int64Param,
                InferParameter.ParameterChoiceOneofCase.Uint64Param when timeout.Uint64Param is > 0 and <= long.MaxValue => (long)timeout.Uint64Param,
                _ => throw InferenceProtocolException.BadRequest("The request parameter 'timeout' must be a positive whole number of microseconds."),
            };
        }

        if (request.Parameters.TryGetValue("priority", out InferParameter? priority))
        {
            long p = priority.ParameterChoiceCase switch
            {
                InferParameter.ParameterChoiceOneofCase.Int64Param => priority.Int64Param,
                InferParameter.ParameterChoiceOneofCase.Uint64Param when priority.Uint64Param <= 2 => (long)priority.Uint64Param,
                _ => -1,
            };
            decoded.Priority = p switch
            {
                0 or 2 => InferencePriority.Normal,
                1 => InferencePriority.High,
                _ => throw InferenceProtocolException.BadRequest("The request parameter 'priority' must be 0 (default), 1 (high) or 2 (normal)."),
            };
        }

        for (int i = 0; i < request.Inputs.Count; i++)
        {
            ModelInferRequest.Types.InferInputTensor input = request.Inputs[i];
            string name = input.Name;
            if (string.IsNullOrEmpty(name))
            {
                throw InferenceProtocolException.BadRequest(string.Create(CultureInfo.InvariantCulture, $"Input {i} has no name."));
            }

            if (!OipTensors.TryParseDatatype(input.Datatype, out TensorElementType type))
            {
                throw InferenceProtocolException.BadRequest(OipTensors.UnknownDatatypeMessage(name, input.Datatype));
            }

            foreach (NamedTensor other in decoded.Inputs)
            {
                if (other.Name == name)
                {
                    throw InferenceProtocolException.BadRequest($"Input '{name}' appears twice in the request; send each input once.");
                }
            }

            long[] shape = [.. input.Shape];
            long count = OipTensors.ElementCount(name, shape, limits.MaxElementCount);
            Tensor tensor = raw
                ? OipTensors.FromRawInPlace(name, type, shape, count, request.RawInputContents[i].Memory, limits.MaxStringBytes)
                : FromContents(name, type, shape, count, input.Contents, limits);
            decoded.Inputs.Add(new NamedTensor(name, tensor));
        }

        if (request.Outputs.Count > 0)
        {
            decoded.Outputs = [.. request.Outputs.Select(o => new OipRequestedOutput(o.Name, false))];
        }

        return decoded;
    }

    private static Tensor FromContents(string name, TensorElementType type, long[] shape, long count, InferTensorContents? contents, OipLimits limits)
    {
        if (contents is null)
        {
            throw InferenceProtocolException.BadRequest($"Input '{name}' has no contents and the request has no raw_input_contents; send its data in one of them.");
        }

        switch (type)
        {
            case TensorElementType.Float: return Tensor.Create<float>(Take(name, type, shape, count, contents.Fp32Contents), shape);
            case TensorElementType.Double: return Tensor.Create<double>(Take(name, type, shape, count, contents.Fp64Contents), shape);
            case TensorElementType.Int64: return Tensor.Create<long>(Take(name, type, shape, count, contents.Int64Contents), shape);
            case TensorElementType.UInt64: return Tensor.Create<ulong>(Take(name, type, shape, count, contents.Uint64Contents), shape);
            case TensorElementType.Bool: return Tensor.Create<bool>(Take(name, type, shape, count, contents.BoolContents), shape);
            case TensorElementType.Int32: return Tensor.Create<int>(Take(name, type, shape, count, contents.IntContents), shape);
            case TensorElementType.Int16: return Tensor.Create<short>(Narrow(name, type, shape, count, contents.IntContents, short.MinValue, short.MaxValue, v => (short)v), shape);
            case TensorElementType.Int8: return Tensor.Create<sbyte>(Narrow(name, type, shape, count, contents.IntContents, sbyte.MinValue, sbyte.MaxValue, v => (sbyte)v), shape);
            case TensorElementType.UInt32: return Tensor.Create<uint>(Take(name, type, shape, count, contents.UintContents), shape);
            case TensorElementType.UInt16: return Tensor.Create<ushort>(NarrowU(name, type, shape, count, contents.UintContents, ushort.MaxValue, v => (ushort)v), shape);
            case TensorElementType.UInt8: return Tensor.Create<byte>(NarrowU(name, type, shape, count, contents.UintContents, byte.MaxValue, v => (byte)v), shape);
            case TensorElementType.String:
                {
                    RepeatedField<ByteString> bytes = contents.BytesContents;
                    CheckCount(name, type, shape, count, bytes.Count);
                    var strings = new string[count];
                    for (int i = 0; i < strings.Length; i++)
                    {
                        if (bytes[i].Length > limits.MaxStringBytes)
                        {
                            throw InferenceProtocolException.BadRequest(string.Create(CultureInfo.InvariantCulture, $"Element {i} of input '{name}' is longer than {limits.MaxStringBytes} bytes, the most a BYTES element may hold."));
                        }

                        strings[i] = OipTensors.DecodeUtf8(name, bytes[i].Span);
                    }

                    return StringTensor.Create(strings, shape);
                }

            default:
                throw InferenceProtocolException.BadRequest($"Input '{name}' is {OipTensors.Datatype(type)}, which has no typed contents field in the protocol; send it in raw_input_contents.");
        }
    }

    private static void CheckCount(string name, TensorElementType type, long[] shape, long count, int actual)
    {
        if (actual != count)
        {
            throw InferenceProtocolException.BadRequest(string.Create(
                CultureInfo.InvariantCulture,
                $"Input '{name}' has shape {TensorSpec.FormatShape(shape)}, which holds {count} elements, but its {ContentsField(type)} holds {actual}; send exactly {count} values."));
        }
    }

    private static T[] Take<T>(string name, TensorElementType type, long[] shape, long count, RepeatedField<T> values)
    {
        CheckCount(name, type, shape, count, values.Count);
        var array = new T[count];
        values.CopyTo(array, 0);
        return array;
    }

    private static T[] Narrow<T>(string name, TensorElementType type, long[] shape, long count, RepeatedField<int> values, int min, int max, Func<int, T> convert)
    {
        CheckCount(name, type, shape, count, values.Count);
        var array = new T[count];
        for (int i = 0; i < array.Length; i++)
        {
            int v = values[i];
            array[i] = v >= min && v <= max ? convert(v) : throw InferenceProtocolException.BadRequest(string.Create(CultureInfo.InvariantCulture, $"Input '{name}' is {OipTensors.Datatype(type)} but element {i} is {v}, outside that type's range."));
        }

        return array;
    }

    private static T[] NarrowU<T>(string name, TensorElementType type, long[] shape, long count, RepeatedField<uint> values, uint max, Func<uint, T> convert)
    {
        CheckCount(name, type, shape, count, values.Count);
        var array = new T[count];
        for (int i = 0; i < array.Length; i++)
        {
            uint v = values[i];
            array[i] = v <= max ? convert(v) : throw InferenceProtocolException.BadRequest(string.Create(CultureInfo.InvariantCulture, $"Input '{name}' is {OipTensors.Datatype(type)} but element {i} is {v}, outside that type's range."));
        }

        return array;
    }

    private static string ContentsField(TensorElementType type) => type switch
    {
        TensorElementType.Float => "fp32_contents",
        TensorElementType.Double => "fp64_contents",
        TensorElementType.Int64 => "int64_contents",
        TensorElementType.UInt64 => "uint64_contents",
        TensorElementType.Bool => "bool_contents",
        TensorElementType.Int32 or TensorElementType.Int16 or TensorElementType.Int8 => "int_contents",
        TensorElementType.UInt32 or TensorElementType.UInt16 or TensorElementType.UInt8 => "uint_contents",
        TensorElementType.String => "bytes_contents",
        _ => "raw_input_contents",
    };

    internal static ModelInferResponse Encode(ModelInferRequest request, int version, List<NamedTensor> outputs)
    {
        var response = new ModelInferResponse
        {
            ModelName = request.ModelName,
            ModelVersion = version.ToString(CultureInfo.InvariantCulture),
            Id = request.Id,
        };
        bool raw = request.RawInputContents.Count > 0 || outputs.Any(o => o.Value.ElementType is TensorElementType.Float16 or TensorElementType.BFloat16);
        foreach (NamedTensor output in outputs)
        {
            var tensor = new ModelInferResponse.Types.InferOutputTensor { Name = output.Name, Datatype = OipTensors.Datatype(output.Value.ElementType) };
            tensor.Shape.AddRange(output.Value.Shape.ToArray());
            if (raw)
            {
                byte[] bytes = new byte[OipTensors.RawLength(output.Value)];
                OipTensors.WriteRaw(output.Value, bytes);
                response.RawOutputContents.Add(UnsafeByteOperations.UnsafeWrap(bytes));
            }
            else
            {
                tensor.Contents = ToContents(output.Value);
            }

            response.Outputs.Add(tensor);
        }

        return response;
    }

    private static InferTensorContents ToContents(Tensor tensor)
    {
        var contents = new InferTensorContents();
        switch (tensor)
        {
            case Tensor<float> t: contents.Fp32Contents.AddRange(t.Data.ToArray()); break;
            case Tensor<double> t: contents.Fp64Contents.AddRange(t.Data.ToArray()); break;
            case Tensor<long> t: contents.Int64Contents.AddRange(t.Data.ToArray()); break;
            case Tensor<ulong> t: contents.Uint64Contents.AddRange(t.Data.ToArray()); break;
            case Tensor<bool> t: contents.BoolContents.AddRange(t.Data.ToArray()); break;
            case Tensor<int> t: contents.IntContents.AddRange(t.Data.ToArray()); break;
            case Tensor<short> t: foreach (short v in t.Span) { contents.IntContents.Add(v); } break;
            case Tensor<sbyte> t: foreach (sbyte v in t.Span) { contents.IntContents.Add(v); } break;
            case Tensor<uint> t: contents.UintContents.AddRange(t.Data.ToArray()); break;
            case Tensor<ushort> t: foreach (ushort v in t.Span) { contents.UintContents.Add(v); } break;
            case Tensor<byte> t: foreach (byte v in t.Span) { contents.UintContents.Add(v); } break;
            case StringTensor t: foreach (string v in t.Span) { contents.BytesContents.Add(ByteString.CopyFromUtf8(v)); } break;
            default: throw new NotSupportedException($"Output element type {tensor.ElementType} has no typed contents field.");
        }

        return contents;
    }

}
