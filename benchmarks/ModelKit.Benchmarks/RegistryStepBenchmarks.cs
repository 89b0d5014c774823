using System.Diagnostics;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using BenchmarkDotNet.Attributes;
using ModelKit.Onnx;
using ModelKit.Registry;

namespace ModelKit.Benchmarks;

/// <summary>
/// The steps of registering the 200 MB model of <see cref="RegistryRegisterLargeBenchmarks"/>, each measured alone with public
/// APIs, to show where <c>RegisterAsync</c>'s time goes: the staging copy with SHA-256 (with and without writing back to
/// disk while copying, as the file store stages), SHA-256 alone, the ONNX validation
/// (memory-mapped file and publicly visible buffer), the fsync of a freshly written 200 MB file, and on s3rver one
/// PutObject against multipart uploads (parts, then the server's reassembly on completion) of the same bytes.
/// </summary>
[InProcess]
[WarmupCount(1)]
[IterationCount(5)]
[InvocationCount(1, 1)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public class RegistryRegisterStepBenchmarks
{
    private string _dir = null!;
    private RegistryBenchServers _servers = null!;
    private AmazonS3Client _s3 = null!;
    private byte[] _model = null!;
    private int _round;
    private string _written = null!;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "modelkit-bench-steps-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
        _servers = new RegistryBenchServers();
        _s3 = RegistryBench.S3(_servers);
        _model = RegistryBench.LargeModel(out _);
        _written = Path.Combine(_dir, "written.onnx");
        File.WriteAllBytes(_written, _model);
    }

    [IterationCleanup]
    public void DeleteWhatWasWritten()
    {
        foreach (string file in Directory.EnumerateFiles(_dir, "*", SearchOption.AllDirectories).Where(f => f != _written))
        {
            File.Delete(file);
        }

        foreach (S3Object o in _s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "bench" }).GetAwaiter().GetResult().S3Objects ?? [])
        {
            _s3.DeleteObjectAsync("bench", o.Key).GetAwaiter().GetResult();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _s3.Dispose();
        _servers.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "file: write + fsync (the bare copy)")]
    public void WriteAndFsync()
    {
        using var file = new FileStream(Path.Combine(_dir, "bare" + ++_round), FileMode.Create, FileAccess.Write, FileShare.None, 0);
        file.Write(_model);
        file.Flush(flushToDisk: true);
    }

    [Benchmark(Description = "file: write, no fsync")]
    public void WriteOnly()
    {
        using var file = new FileStream(Path.Combine(_dir, "nosync" + ++_round), FileMode.Create, FileAccess.Write, FileShare.None, 0);
        file.Write(_model);
    }

    [Benchmark(Description = "SHA-256 alone")]
    public byte[] Sha256() => SHA256.HashData(_model);

    [Benchmark(Description = "staging copy + SHA-256 (StagedArtifact.CreateAsync)")]
    public long Stage()
    {
        using StagedArtifact staged = StagedArtifact.CreateAsync(new MemoryStream(_model), Path.Combine(_dir, "staging"), long.MaxValue, "bench").GetAwaiter().GetResult();
        staged.MarkMoved(); // The registry keeps (renames) or deletes the file after this step; [IterationCleanup] deletes it untimed.
        return staged.SizeBytes;
    }

    [Benchmark(Description = "staging copy + SHA-256 writing back while copying, then fsync (the file store's path)")]
    public long StageDurably()
    {
        using StagedArtifact staged = StagedArtifact.CreateAsync(new MemoryStream(_model), Path.Combine(_dir, "staging"), long.MaxValue, "bench", writeBackWhileCopying: true)
            .GetAwaiter().GetResult();
        staged.FlushToDisk();
        staged.MarkMoved(); // The file store renames it into place; [IterationCleanup] deletes it untimed.
        return staged.SizeBytes;
    }

    [Benchmark(Description = "ONNX validation: memory-mapped file")]
    public int ValidateFile()
    {
        using var file = new FileStream(_written, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return new OnnxModelInspector().Inspect(file).Signature.Inputs.Count;
    }

    [Benchmark(Description = "ONNX validation: publicly visible buffer")]
    public int ValidateBuffer() =>
        new OnnxModelInspector().Inspect(new MemoryStream(_model, 0, _model.Length, writable: false, publiclyVisible: true)).Signature.Inputs.Count;

    [Benchmark(Description = "S3: one PutObject from memory")]
    public void S3Put() =>
        _s3.PutObjectAsync(new PutObjectRequest { BucketName = "bench", Key = "put", InputStream = new MemoryStream(_model), UseChunkEncoding = false })
            .GetAwaiter().GetResult();

    [Benchmark(Description = "S3: multipart 16 MiB x 4 from a file")]
    public void S3Multipart16() => MultipartAsync(16 << 20, 4).GetAwaiter().GetResult();

    [Benchmark(Description = "S3: multipart 64 MiB x 4 from a file")]
    public void S3Multipart64() => MultipartAsync(64 << 20, 4).GetAwaiter().GetResult();

    [Benchmark(Description = "S3: multipart 32 MiB x 2 from a file")]
    public void S3Multipart32x2() => MultipartAsync(32 << 20, 2).GetAwaiter().GetResult();

    private async Task MultipartAsync(long partSize, int concurrency)
    {
        var watch = Stopwatch.StartNew();
        string key = "mp" + ++_round;
        InitiateMultipartUploadResponse start = await _s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = "bench", Key = key });
        int parts = (int)((_model.Length + partSize - 1) / partSize);
        var etags = new PartETag[parts];
        using var gate = new SemaphoreSlim(concurrency);
        var uploads = new List<Task>();
        for (int i = 0; i < parts; i++)
        {
            await gate.WaitAsync();
            int index = i;
            uploads.Add(Task.Run(async () =>
            {
                try
                {
                    long position = index * partSize;
                    UploadPartResponse part = await _s3.UploadPartAsync(new UploadPartRequest
                    {
                        BucketName = "bench",
                        Key = key,
                        UploadId = start.UploadId,
                        PartNumber = index + 1,
                        FilePath = _written,
                        FilePosition = position,
                        PartSize = Math.Min(partSize, _model.Length - position),
                        IsLastPart = index == parts - 1,
                        UseChunkEncoding = false,
                    });
                    etags[index] = new PartETag(index + 1, part.ETag);
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        await Task.WhenAll(uploads);
        TimeSpan partsDone = watch.Elapsed;
        await _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = "bench", Key = key, UploadId = start.UploadId, PartETags = [.. etags] });
        Console.WriteLine($"// multipart {partSize >> 20} MiB x {concurrency}: parts {partsDone.TotalMilliseconds:F0} ms, complete (s3rver reassembly) {(watch.Elapsed - partsDone).TotalMilliseconds:F0} ms");
    }
}
