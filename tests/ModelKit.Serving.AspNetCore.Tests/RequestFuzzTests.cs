using System.Net;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using ModelKit.Serving.AspNetCore.Protocol;

namespace ModelKit.Serving.AspNetCore.Tests;

/// <summary>
/// Random mutations of valid requests (JSON, binary extension, gRPC protobuf): every answer is a 2xx or a 4xx (gRPC: not
/// INTERNAL/UNKNOWN), never a 5xx or a crash, and a valid request still succeeds afterwards. Seeded, so every run sends
/// the same requests.
/// </summary>
public sealed class RequestFuzzTests(InferenceApiFactory factory) : IClassFixture<InferenceApiFactory>
{
    private const int Mutations = 1500;

    private static readonly string[] Tokens =
    [
        "null", "true", "-1", "0", "1e309", "-0", "1.5", "NaN", "\"\"", "\"FP32\"", "\"BYTES\"", "[]", "{}", "[[", "]]", "9223372036854775808",
        "\"shape\"", "\"data\"", "\"datatype\"", "\"name\"", "\"binary_data_size\"", ",", ":", "\"\\u0000\"", "18446744073709551616", "[1,2]",
    ];

    private const string ValidJson = """
        {"id": "f", "inputs": [{"name": "a", "shape": [1, 2], "datatype": "INT64", "data": [10, 20]}, {"name": "b", "shape": [1, 2], "datatype": "INT64", "data": [[1, 2]]}], "outputs": [{"name": "sum"}], "parameters": {"timeout": 5000000}}
        """;

    [Fact]
    public async Task Infer_RandomMutationsOfValidJsonAndBinaryRequests_AnswerOnly2xxOr4xx_ThenAValidRequestSucceeds()
    {
        await factory.SeedAsync();
        HttpClient client = factory.CreateClient();
        var random = new Random(20261202);
        var statuses = new Dictionary<int, int>();
        byte[] json = Encoding.UTF8.GetBytes(ValidJson);
        byte[] raw = [.. BitConverter.GetBytes(10L), .. BitConverter.GetBytes(20L), .. BitConverter.GetBytes(1L), .. BitConverter.GetBytes(2L)];
        string binaryHeader = """{"inputs": [{"name": "a", "shape": [1, 2], "datatype": "INT64", "parameters": {"binary_data_size": 16}}, {"name": "b", "shape": [1, 2], "datatype": "INT64", "parameters": {"binary_data_size": 16}}], "parameters": {"binary_data_output": true}}""";
        byte[] header = Encoding.UTF8.GetBytes(binaryHeader);

        for (int i = 0; i < Mutations; i++)
        {
            bool binary = i % 3 == 2;
            HttpContent content;
            if (binary)
            {
                byte[] body = Mutate(random, [.. header, .. raw]);
                content = new ByteArrayContent(body);
                int declared = random.Next(4) switch { 0 => header.Length, 1 => random.Next(-5, body.Length + 10), 2 => body.Length, _ => header.Length + random.Next(-3, 4) };
                content.Headers.TryAddWithoutValidation("Inference-Header-Content-Length", random.Next(10) == 0 ? "x1" : declared.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                content = new ByteArrayContent(random.Next(2) == 0 ? Mutate(random, json) : MutateTokens(random, ValidJson));
            }

            HttpResponseMessage response = await client.PostAsync("/v2/models/addsub/infer", content);
            int status = (int)response.StatusCode;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            Assert.True(status is (>= 200 and < 300) or (>= 400 and < 500), $"Mutation {i} got {status}: {await response.Content.ReadAsStringAsync()}");
        }

        Assert.True(statuses.Keys.Any(s => s >= 400), "the fuzzer never produced an invalid request");
        HttpResponseMessage valid = await client.PostAsync("/v2/models/addsub/infer", Http.Json(ValidJson));
        Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
    }

    [Fact]
    public async Task ModelInfer_RandomMutationsOfValidProtobufRequests_NeverInternalOrUnknown_ThenAValidRequestSucceeds()
    {
        await factory.SeedAsync();
        GrpcChannel channel = GrpcChannel.ForAddress(factory.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = factory.Server.CreateHandler() });
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
        var random = new Random(7);
        var valid = new ModelInferRequest { ModelName = "addsub" };
        valid.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "a", Datatype = "INT64", Shape = { 1, 2 }, Contents = new InferTensorContents { Int64Contents = { 10, 20 } } });
        valid.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "b", Datatype = "INT64", Shape = { 1, 2 }, Contents = new InferTensorContents { Int64Contents = { 1, 2 } } });
        byte[] bytes = valid.ToByteArray();
        for (int i = 0; i < Mutations / 3; i++)
        {
            ModelInferRequest request;
            try
            {
                request = ModelInferRequest.Parser.ParseFrom(Mutate(random, bytes));
            }
            catch (InvalidProtocolBufferException)
            {
                continue;
            }

            try
            {
                await client.ModelInferAsync(request);
            }
            catch (RpcException ex)
            {
                Assert.True(ex.StatusCode is not (StatusCode.Internal or StatusCode.Unknown), $"Mutation {i} got {ex.StatusCode}: {ex.Status.Detail}");
            }
        }

        ModelInferResponse answer = await client.ModelInferAsync(valid);
        Assert.Equal([11L, 22L], answer.Outputs[0].Contents.Int64Contents.ToArray());
    }

    private static byte[] Mutate(Random random, byte[] source)
    {
        var bytes = new List<byte>(source);
        int edits = 1 + random.Next(4);
        for (int e = 0; e < edits && bytes.Count > 0; e++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0: bytes[at] = (byte)random.Next(256); break;
                case 1: bytes.RemoveAt(at); break;
                case 2: bytes.Insert(at, (byte)random.Next(256)); break;
                case 3: bytes.RemoveRange(at, bytes.Count - at); break;
                default: bytes[at] ^= (byte)(1 << random.Next(8)); break;
            }
        }

        return [.. bytes];
    }

    private static byte[] MutateTokens(Random random, string json)
    {
        var sb = new StringBuilder(json);
        int edits = 1 + random.Next(3);
        for (int e = 0; e < edits; e++)
        {
            int at = random.Next(sb.Length);
            int length = Math.Min(sb.Length - at, random.Next(0, 8));
            sb.Remove(at, length).Insert(at, Tokens[random.Next(Tokens.Length)]);
        }

        return Encoding.UTF8.GetBytes(sb.ToString());
    }
}
