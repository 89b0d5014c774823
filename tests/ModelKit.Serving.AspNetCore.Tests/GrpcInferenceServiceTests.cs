using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using ModelKit.Serving.AspNetCore.Protocol;

namespace ModelKit.Serving.AspNetCore.Tests;

public sealed class GrpcInferenceServiceTests(InferenceApiFactory factory) : IClassFixture<InferenceApiFactory>
{
    private async Task<GRPCInferenceService.GRPCInferenceServiceClient> ClientAsync()
    {
        await factory.SeedAsync();
        GrpcChannel channel = GrpcChannel.ForAddress(factory.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = factory.Server.CreateHandler() });
        return new GRPCInferenceService.GRPCInferenceServiceClient(channel);
    }

    private static ModelInferRequest GemmRequest(string model = "gemm", string version = "")
    {
        var request = new ModelInferRequest { ModelName = model, ModelVersion = version, Id = "grpc-1" };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor
        {
            Name = "input",
            Datatype = "FP32",
            Shape = { 2, 3 },
            Contents = new InferTensorContents { Fp32Contents = { 1, 2, 3, -4, 0.5f, 8 } },
        });
        return request;
    }

    [Fact]
    public async Task ServerLiveAndReady_ReturnTrue()
    {
        var client = await ClientAsync();
        Assert.True((await client.ServerLiveAsync(new ServerLiveRequest())).Live);
        Assert.True((await client.ServerReadyAsync(new ServerReadyRequest())).Ready);
    }

    [Fact]
    public async Task ServerMetadata_ReturnsNameAndExtensions()
    {
        var client = await ClientAsync();
        ServerMetadataResponse metadata = await client.ServerMetadataAsync(new ServerMetadataRequest());
        Assert.Equal("modelkit", metadata.Name);
        Assert.Contains("binary_tensor_data", metadata.Extensions);
    }

    [Fact]
    public async Task ModelMetadata_ReturnsVersionsPlatformAndTensors()
    {
        var client = await ClientAsync();
        ModelMetadataResponse metadata = await client.ModelMetadataAsync(new ModelMetadataRequest { Name = "scale" });
        Assert.Equal(["1", "2"], metadata.Versions.ToArray());
        Assert.Equal("onnxruntime_onnx", metadata.Platform);
        Assert.Equal("x", metadata.Inputs[0].Name);
        Assert.Equal("FP32", metadata.Inputs[0].Datatype);
        Assert.Equal([-1L, 3L], metadata.Inputs[0].Shape.ToArray());
    }

    [Fact]
    public async Task ModelInfer_TypedContents_ReturnsExactOutputsAndVersion()
    {
        var client = await ClientAsync();
        ModelInferResponse response = await client.ModelInferAsync(GemmRequest());
        Assert.Equal("gemm", response.ModelName);
        Assert.Equal("1", response.ModelVersion);
        Assert.Equal("grpc-1", response.Id);
        Assert.Equal(TestModels.GemmReluReference([1, 2, 3, -4, 0.5f, 8]), response.Outputs[0].Contents.Fp32Contents.ToArray());
    }

    [Fact]
    public async Task ModelInfer_AliasVersionString_AnswersFromAliasVersion()
    {
        var client = await ClientAsync();
        var request = new ModelInferRequest { ModelName = "scale", ModelVersion = "2" };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "FP32", Shape = { 1, 3 }, Contents = new InferTensorContents { Fp32Contents = { 1, 1, 1 } } });
        Assert.Equal(3f, (await client.ModelInferAsync(request)).Outputs[0].Contents.Fp32Contents[0]);
        request.ModelVersion = "production";
        ModelInferResponse response = await client.ModelInferAsync(request);
        Assert.Equal("1", response.ModelVersion);
        Assert.Equal(2f, response.Outputs[0].Contents.Fp32Contents[0]);
    }

    [Fact]
    public async Task ModelReady_UnknownModel_IsNotFound()
    {
        var client = await ClientAsync();
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.ModelReadyAsync(new ModelReadyRequest { Name = "nope" }));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task ModelInfer_UnknownModel_IsNotFound()
    {
        var client = await ClientAsync();
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.ModelInferAsync(GemmRequest("nope")));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Contains("nope", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModelInfer_WrongElementCount_IsInvalidArgumentNamingTheInput()
    {
        var client = await ClientAsync();
        ModelInferRequest request = GemmRequest();
        request.Inputs[0].Contents.Fp32Contents.RemoveAt(0);
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.ModelInferAsync(request));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("'input'", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModelInfer_RawContentsCountMismatch_IsInvalidArgument()
    {
        var client = await ClientAsync();
        ModelInferRequest request = GemmRequest();
        request.RawInputContents.Add(ByteString.CopyFrom(new byte[24]));
        request.RawInputContents.Add(ByteString.CopyFrom(new byte[24]));
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.ModelInferAsync(request));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }

    private static ModelInferRequest SlowRequest()
    {
        var request = new ModelInferRequest { ModelName = "slow" };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "x", Datatype = "FP32", Shape = { 64, 1000 } });
        request.RawInputContents.Add(ByteString.CopyFrom(new byte[256000]));
        return request;
    }

    [Fact]
    public async Task ModelInfer_TimeoutParameterPassesWhileQueued_IsDeadlineExceeded()
    {
        var client = await ClientAsync();
        await client.ModelInferAsync(SlowRequest());
        RpcException? timedOut = null;
        for (int attempt = 0; attempt < 20 && timedOut is null; attempt++)
        {
            Task running = client.ModelInferAsync(SlowRequest()).ResponseAsync;
            ModelInferRequest late = SlowRequest();
            late.Parameters["timeout"] = new InferParameter { Int64Param = 2000 };
            try
            {
                await client.ModelInferAsync(late);
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.DeadlineExceeded or StatusCode.ResourceExhausted)
            {
                timedOut = ex.StatusCode == StatusCode.DeadlineExceeded ? ex : null;
            }

            await running;
        }

        Assert.NotNull(timedOut);
    }

    [Fact]
    public async Task ModelInfer_CallDeadlineWhileQueued_IsDeadlineExceeded()
    {
        var client = await ClientAsync();
        await client.ModelInferAsync(SlowRequest());
        // The deadlined call must meet the slow model busy with the call before it. When it reaches the server first (the
        // model is idle, so it runs at once and may finish within 5 ms), or finds the one-request queue taken, try again.
        RpcException? error = null;
        for (int attempt = 0; attempt < 20 && error is null; attempt++)
        {
            Task running = client.ModelInferAsync(SlowRequest()).ResponseAsync;
            try
            {
                await client.ModelInferAsync(SlowRequest(), deadline: DateTime.UtcNow.AddMilliseconds(5));
            }
            catch (RpcException ex) when (ex.StatusCode != StatusCode.ResourceExhausted)
            {
                error = ex;
            }

            await running;
        }

        Assert.NotNull(error);
        // Over a socket the client reports DEADLINE_EXCEEDED (CANCELLED when the server saw the call's token first); through TestServer, Grpc.AspNetCore's reset of the expired
        // call (RST_STREAM CANCEL, code 8) surfaces as INTERNAL with TestServer's HttpResetTestException.
        Assert.True(
            error.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Cancelled || (error.StatusCode == StatusCode.Internal && error.Status.DebugException?.GetType().Name == "HttpResetTestException"),
            $"{error.StatusCode}: {error.Status.Detail}");
    }

    [Fact]
    public async Task ModelInfer_QueueFull_IsResourceExhausted()
    {
        var client = await ClientAsync();
        await client.ModelInferAsync(SlowRequest());
        RpcException? refused = null;
        for (int attempt = 0; attempt < 20 && refused is null; attempt++)
        {
            Task<ModelInferResponse>[] burst = [.. Enumerable.Range(0, 5).Select(_ => client.ModelInferAsync(SlowRequest()).ResponseAsync)];
            foreach (Task<ModelInferResponse> call in burst)
            {
                try
                {
                    await call;
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
                {
                    refused = ex;
                }
            }
        }

        Assert.NotNull(refused);
        Assert.Contains("slow", refused.Status.Detail, StringComparison.Ordinal);
    }
}
