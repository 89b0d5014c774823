using System.CommandLine;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using ModelKit.Serving.AspNetCore.Protocol;

namespace ModelKit.Cli;

/// <summary>
/// <c>modelkit grpc METHOD [-d JSON|@FILE|@] [--url URL] [-H "name: value"]…</c>: one call of the Open Inference Protocol
/// gRPC service <c>inference.GRPCInferenceService</c>, grpcurl-style: the request in protobuf's JSON mapping (bytes
/// fields such as <c>raw_input_contents</c> in base64), the response printed in the same mapping. For servers
/// without grpcurl at hand (it is not packaged for Debian 12); any OIP server answers it, not only ModelKit's.
/// </summary>
internal static class GrpcCommand
{
    private delegate Task<IMessage> Call(GRPCInferenceService.GRPCInferenceServiceClient client, string json, Metadata headers, CancellationToken cancellationToken);

    private static readonly JsonParser Parser = new(JsonParser.Settings.Default);
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithIndentation());

    private static readonly Dictionary<string, Call> Methods = new(StringComparer.Ordinal)
    {
        ["ServerLive"] = async (c, j, h, ct) => await c.ServerLiveAsync(Parser.Parse<ServerLiveRequest>(j), h, cancellationToken: ct),
        ["ServerReady"] = async (c, j, h, ct) => await c.ServerReadyAsync(Parser.Parse<ServerReadyRequest>(j), h, cancellationToken: ct),
        ["ModelReady"] = async (c, j, h, ct) => await c.ModelReadyAsync(Parser.Parse<ModelReadyRequest>(j), h, cancellationToken: ct),
        ["ServerMetadata"] = async (c, j, h, ct) => await c.ServerMetadataAsync(Parser.Parse<ServerMetadataRequest>(j), h, cancellationToken: ct),
        ["ModelMetadata"] = async (c, j, h, ct) => await c.ModelMetadataAsync(Parser.Parse<ModelMetadataRequest>(j), h, cancellationToken: ct),
        ["ModelInfer"] = async (c, j, h, ct) => await c.ModelInferAsync(Parser.Parse<ModelInferRequest>(j), h, cancellationToken: ct),
        ["RepositoryIndex"] = async (c, j, h, ct) => await c.RepositoryIndexAsync(Parser.Parse<RepositoryIndexRequest>(j), h, cancellationToken: ct),
        ["RepositoryModelLoad"] = async (c, j, h, ct) => await c.RepositoryModelLoadAsync(Parser.Parse<RepositoryModelLoadRequest>(j), h, cancellationToken: ct),
        ["RepositoryModelUnload"] = async (c, j, h, ct) => await c.RepositoryModelUnloadAsync(Parser.Parse<RepositoryModelUnloadRequest>(j), h, cancellationToken: ct),
    };

    public static Command Create(TextWriter stdout, TextReader stdin, Func<TextWriter, Func<Task>, Task<int>> run, TextWriter stderr)
    {
        var method = new Argument<string>("METHOD") { Description = $"The method of inference.GRPCInferenceService (or its full name): {string.Join(", ", Methods.Keys)}." };
        var url = new Option<string>("--url") { Description = "The server. Default: http://127.0.0.1:8080 (modelkit serve's port; REST and gRPC share it).", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var data = new Option<string>("-d", "--data") { Description = "The request in protobuf's JSON mapping; @FILE reads a file, @ reads standard input. Default: {}.", DefaultValueFactory = _ => "{}" };
        var headers = new Option<string[]>("-H", "--header") { Description = "Request metadata, \"name: value\" (for example an API key); repeat for more." };
        var command = new Command("grpc", "Call one method of the Open Inference Protocol gRPC service, grpcurl-style: JSON request in, JSON response out.") { method, url, data, headers };
        command.SetAction((parse, ct) => run(stderr, async () =>
        {
            string name = parse.GetValue(method)!;
            name = name.StartsWith("inference.GRPCInferenceService/", StringComparison.Ordinal) ? name["inference.GRPCInferenceService/".Length..] : name;
            if (!Methods.TryGetValue(name, out Call? call))
            {
                throw new CliException(ExitCodes.Usage, $"'{name}' is not a method of inference.GRPCInferenceService; use one of {string.Join(", ", Methods.Keys)}.");
            }

            string json = parse.GetValue(data)!;
            if (json == "@")
            {
                json = await stdin.ReadToEndAsync(ct);
            }
            else if (json.StartsWith('@'))
            {
                string path = json[1..];
                json = File.Exists(path) ? await File.ReadAllTextAsync(path, ct) : throw new CliException(ExitCodes.NotFound, $"File '{Path.GetFullPath(path)}' does not exist.");
            }

            var metadata = new Metadata();
            foreach (string header in parse.GetValue(headers) ?? [])
            {
                int colon = header.IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0)
                {
                    throw new CliException(ExitCodes.Usage, $"Header '{header}' is not \"name: value\".");
                }

                metadata.Add(header[..colon].Trim().ToLowerInvariant(), header[(colon + 1)..].Trim());
            }

            string address = parse.GetValue(url)!;
            if (!Uri.TryCreate(address, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new CliException(ExitCodes.Usage, $"'{address}' is not an http:// or https:// URL, for example http://127.0.0.1:8080.");
            }

            IMessage response;
            using (GrpcChannel channel = GrpcChannel.ForAddress(uri))
            {
                try
                {
                    response = await call(new GRPCInferenceService.GRPCInferenceServiceClient(channel), json, metadata, ct);
                }
                catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException)
                {
                    throw new CliException(ExitCodes.Usage, $"The request is not a valid {name} request in protobuf's JSON mapping: {ex.Message}");
                }
                catch (RpcException ex)
                {
                    int code = ex.StatusCode switch
                    {
                        StatusCode.NotFound => ExitCodes.NotFound,
                        StatusCode.AlreadyExists or StatusCode.FailedPrecondition or StatusCode.Aborted => ExitCodes.Conflict,
                        _ => ExitCodes.Usage,
                    };
                    throw new CliException(code, $"{name} failed: {ex.StatusCode}: {ex.Status.Detail}");
                }
            }

            await stdout.WriteLineAsync(Formatter.Format(response));
        }));
        return command;
    }
}
