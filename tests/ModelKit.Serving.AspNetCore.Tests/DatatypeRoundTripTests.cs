using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Net.Client;
using ModelKit.Serving.AspNetCore.Protocol;

namespace ModelKit.Serving.AspNetCore.Tests;

/// <summary>Every OIP datatype through an Identity model: JSON, the binary extension, gRPC typed contents and gRPC raw contents.</summary>
public sealed class DatatypeRoundTripTests(InferenceApiFactory factory) : IClassFixture<InferenceApiFactory>
{
    public static TheoryData<string> Datatypes => TestModels.Datatypes;

    private static string JsonRequest(string datatype) =>
        $$"""{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "{{datatype}}", "data": [{{string.Join(", ", TestModels.JsonValues(datatype))}}]}]}""";

    [Theory]
    [MemberData(nameof(Datatypes))]
    public async Task Infer_JsonInJsonOut_EveryDatatypeRoundTripsExactly(string datatype)
    {
        await factory.SeedAsync();
        HttpResponseMessage response = await factory.CreateClient().PostAsync($"/v2/models/identity-{datatype.ToLowerInvariant()}/infer", Http.Json(JsonRequest(datatype)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement output = (await response.ReadJsonAsync()).GetProperty("outputs")[0];
        Assert.Equal(datatype, output.GetProperty("datatype").GetString());
        Assert.Equal([2L, 2L], output.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
        Assert.Equal(TestModels.RawValues(datatype), ToRaw(datatype, output.GetProperty("data").EnumerateArray()));
    }

    [Theory]
    [MemberData(nameof(Datatypes))]
    public async Task Infer_BinaryInBinaryOut_EveryDatatypeRoundTripsExactly(string datatype)
    {
        await factory.SeedAsync();
        byte[] raw = TestModels.RawValues(datatype);
        string json = $$$"""
            {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "{{{datatype}}}", "parameters": {"binary_data_size": {{{raw.Length}}}}}],
             "outputs": [{"name": "y", "parameters": {"binary_data": true}}]}
            """;
        HttpResponseMessage response = await factory.CreateClient().PostAsync($"/v2/models/identity-{datatype.ToLowerInvariant()}/infer", Http.Binary(json, raw));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType!.MediaType);
        int headerLength = int.Parse(response.Headers.GetValues("Inference-Header-Content-Length").Single(), CultureInfo.InvariantCulture);
        byte[] body = await response.Content.ReadAsByteArrayAsync();
        JsonElement header = JsonDocument.Parse(body.AsMemory(0, headerLength)).RootElement;
        JsonElement output = header.GetProperty("outputs")[0];
        Assert.Equal(raw.Length, output.GetProperty("parameters").GetProperty("binary_data_size").GetInt32());
        Assert.False(output.TryGetProperty("data", out _));
        Assert.Equal(raw, body[headerLength..]);
    }

    [Theory]
    [MemberData(nameof(Datatypes))]
    public async Task Infer_BinaryInJsonOut_AndJsonInBinaryOutViaBinaryDataOutput_Agree(string datatype)
    {
        await factory.SeedAsync();
        byte[] raw = TestModels.RawValues(datatype);
        HttpClient client = factory.CreateClient();
        string binaryIn = $$$"""{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "{{{datatype}}}", "parameters": {"binary_data_size": {{{raw.Length}}}}}]}""";
        JsonElement jsonOut = (await (await client.PostAsync($"/v2/models/identity-{datatype.ToLowerInvariant()}/infer", Http.Binary(binaryIn, raw))).ReadJsonAsync()).GetProperty("outputs")[0];
        Assert.Equal(raw, ToRaw(datatype, jsonOut.GetProperty("data").EnumerateArray()));

        string jsonIn = JsonRequest(datatype).Replace("]}]}", "]}], \"parameters\": {\"binary_data_output\": true}}", StringComparison.Ordinal);
        HttpResponseMessage response = await client.PostAsync($"/v2/models/identity-{datatype.ToLowerInvariant()}/infer", Http.Json(jsonIn));
        int headerLength = int.Parse(response.Headers.GetValues("Inference-Header-Content-Length").Single(), CultureInfo.InvariantCulture);
        Assert.Equal(raw, (await response.Content.ReadAsByteArrayAsync())[headerLength..]);
    }

    [Theory]
    [MemberData(nameof(Datatypes))]
    public async Task ModelInfer_GrpcRawContents_EveryDatatypeRoundTripsExactly(string datatype)
    {
        await factory.SeedAsync();
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(Channel());
        var request = new ModelInferRequest { ModelName = $"identity-{datatype.ToLowerInvariant()}", Id = "g1" };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = datatype, Shape = { 2, 2 } });
        request.RawInputContents.Add(ByteString.CopyFrom(TestModels.RawValues(datatype)));
        ModelInferResponse response = await client.ModelInferAsync(request);
        Assert.Equal("g1", response.Id);
        Assert.Equal("1", response.ModelVersion);
        Assert.Equal(datatype, response.Outputs[0].Datatype);
        Assert.Equal([2L, 2L], response.Outputs[0].Shape.ToArray());
        Assert.Equal(TestModels.RawValues(datatype), response.RawOutputContents[0].ToByteArray());
    }

    [Theory]
    [MemberData(nameof(Datatypes))]
    public async Task ModelInfer_GrpcTypedContents_EveryDatatypeWithATypedFieldRoundTripsExactly(string datatype)
    {
        await factory.SeedAsync();
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(Channel());
        var request = new ModelInferRequest { ModelName = $"identity-{datatype.ToLowerInvariant()}" };
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = datatype, Shape = { 2, 2 } };
        request.Inputs.Add(input);
        if (datatype is "FP16" or "BF16")
        {
            // No typed field exists for these in the protocol: the server says to use raw_input_contents.
            input.Contents = new InferTensorContents();
            var error = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () => await client.ModelInferAsync(request));
            Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, error.StatusCode);
            Assert.Contains("raw_input_contents", error.Status.Detail, StringComparison.Ordinal);
            return;
        }

        input.Contents = Typed(datatype);
        ModelInferResponse response = await client.ModelInferAsync(request);
        Assert.Empty(response.RawOutputContents);
        Assert.Equal(input.Contents, response.Outputs[0].Contents);
    }

    private GrpcChannel Channel() =>
        GrpcChannel.ForAddress(factory.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = factory.Server.CreateHandler() });

    internal static InferTensorContents Typed(string datatype)
    {
        var c = new InferTensorContents();
        switch (datatype)
        {
            case "BOOL": c.BoolContents.AddRange([true, false, false, true]); break;
            case "UINT8": c.UintContents.AddRange([0u, 1u, 200u, 255u]); break;
            case "UINT16": c.UintContents.AddRange([0u, 1u, 40000u, 65535u]); break;
            case "UINT32": c.UintContents.AddRange([0u, 1u, 3000000000u, 4294967295u]); break;
            case "UINT64": c.Uint64Contents.AddRange([0ul, 1ul, 9007199254740993ul, ulong.MaxValue]); break;
            case "INT8": c.IntContents.AddRange([-128, -1, 0, 127]); break;
            case "INT16": c.IntContents.AddRange([-32768, -1, 0, 32767]); break;
            case "INT32": c.IntContents.AddRange([int.MinValue, -1, 0, int.MaxValue]); break;
            case "INT64": c.Int64Contents.AddRange([long.MinValue, -1L, 0L, long.MaxValue]); break;
            case "FP32": c.Fp32Contents.AddRange([-2.5f, 0.1f, 0f, float.MaxValue]); break;
            case "FP64": c.Fp64Contents.AddRange([-2.5, 0.1, 0, double.MaxValue]); break;
            case "BYTES": c.BytesContents.AddRange(new[] { "a", "", "héllo ☃", "with \"quotes\"" }.Select(ByteString.CopyFromUtf8)); break;
        }

        return c;
    }

    /// <summary>The test's own conversion of JSON elements to little-endian raw bytes.</summary>
    internal static byte[] ToRaw(string datatype, IEnumerable<JsonElement> values)
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        foreach (JsonElement e in values)
        {
            switch (datatype)
            {
                case "BOOL": w.Write((byte)(e.GetBoolean() ? 1 : 0)); break;
                case "UINT8": w.Write(e.GetByte()); break;
                case "UINT16": w.Write(e.GetUInt16()); break;
                case "UINT32": w.Write(e.GetUInt32()); break;
                case "UINT64": w.Write(e.GetUInt64()); break;
                case "INT8": w.Write(e.GetSByte()); break;
                case "INT16": w.Write(e.GetInt16()); break;
                case "INT32": w.Write(e.GetInt32()); break;
                case "INT64": w.Write(e.GetInt64()); break;
                case "FP16": w.Write((Half)e.GetDouble()); break;
                case "BF16":
                    uint bits = BitConverter.SingleToUInt32Bits(e.GetSingle());
                    w.Write((ushort)(bits >> 16));
                    break;
                case "FP32": w.Write(e.GetSingle()); break;
                case "FP64": w.Write(e.GetDouble()); break;
                default:
                    byte[] b = Encoding.UTF8.GetBytes(e.GetString()!);
                    w.Write(b.Length);
                    w.Write(b);
                    break;
            }
        }

        w.Flush();
        return ms.ToArray();
    }
}
