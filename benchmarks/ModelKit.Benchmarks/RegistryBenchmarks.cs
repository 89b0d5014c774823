using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using ModelKit.Onnx;
using ModelKit.Registry;
using Npgsql;

namespace ModelKit.Benchmarks;

/// <summary>Builds registries over the two store combinations the registry issue measures: SQLite + files, PostgreSQL + S3.</summary>
internal static class RegistryBench
{
    /// <summary>
    /// The 200 MB model of the large-artifact suites: <c>y = x + w</c> with one float initializer <c>w</c> of 52,428,800
    /// elements (209,715,200 bytes) whose first two values are a marker; <paramref name="markerOffset"/> is where the
    /// marker's bytes start in the returned model, so an iteration can write new bytes there.
    /// </summary>
    public static byte[] LargeModel(out int markerOffset)
    {
        const int elements = 50 * 1024 * 1024;
        float[] weights = new float[elements];
        weights[0] = 1234.5f;
        weights[1] = -9876.25f;
        byte[] model = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, elements)
            .AddOutput("y", TensorElementType.Float, -1, elements)
            .AddInitializer("w", weights, elements)
            .AddNode("Add", ["x", "w"], ["y"])
            .ToBytes();
        byte[] marker = [.. BitConverter.GetBytes(1234.5f), .. BitConverter.GetBytes(-9876.25f)];
        markerOffset = model.AsSpan().IndexOf(marker);
        return model;
    }

    public static (IModelRegistry Registry, ServiceProvider Services) Create(string store, string dataDirectory, RegistryBenchServers? servers, bool cache)
    {
        var services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = dataDirectory)
            .AddModelRegistry(r =>
            {
                r.Configure(o => o.CacheResolvedReferences = cache);
                if (store == "postgres+s3")
                {
                    r.UsePostgreSql(servers!.PgConnectionString, o => o.Schema = "bench_" + Guid.NewGuid().ToString("N")[..8])
                        .UseS3Artifacts(o =>
                        {
                            o.BucketName = "bench";
                            o.ServiceUrl = new Uri(servers.S3Url);
                            o.ForcePathStyle = true;
                            o.AccessKey = RegistryBenchServers.S3Key;
                            o.SecretKey = RegistryBenchServers.S3Key;
                            o.StagingDirectory = Path.Combine(dataDirectory, "staging");
                        });
                }
            })
            .AddOnnx();
        ServiceProvider provider = services.BuildServiceProvider();
        return (provider.GetRequiredService<IModelRegistry>(), provider);
    }

    public static AmazonS3Client S3(RegistryBenchServers servers) =>
        new(new BasicAWSCredentials(RegistryBenchServers.S3Key, RegistryBenchServers.S3Key),
            new AmazonS3Config { ServiceURL = servers.S3Url, ForcePathStyle = true, AuthenticationRegion = "us-east-1", RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED });

    public static byte[] Relu(int width) =>
        new OnnxGraphBuilder().AddInput("x", TensorElementType.Float, -1, width).AddOutput("y", TensorElementType.Float, -1, width)
            .AddNode("Relu", ["x"], ["y"]).ToBytes();
}

/// <summary>
/// Resolving <c>name@alias</c>: the registry with its resolve cache (kept correct by the change feed), the registry without
/// it, and the bare query underneath (one pooled connection, the same join, every column read) as the baseline.
/// </summary>
[InProcess]
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public class RegistryResolveBenchmarks
{
    private readonly ModelReference _reference = ModelReference.Parse("mnist@production");
    private string _dir = null!;
    private RegistryBenchServers? _servers;
    private ServiceProvider _cachedServices = null!, _uncachedServices = null!;
    private IModelRegistry _cached = null!, _uncached = null!;
    private string _sqliteConnection = null!;
    private NpgsqlDataSource? _pg;
    private string _schema = null!;

    [Params("sqlite+files", "postgres+s3")]
    public string Store { get; set; } = "sqlite+files";

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "modelkit-bench-resolve-" + Guid.NewGuid().ToString("N")[..8]);
        _servers = Store == "postgres+s3" ? new RegistryBenchServers() : null;
        (_uncached, _uncachedServices) = RegistryBench.Create(Store, _dir, _servers, cache: false);
        for (int i = 1; i <= 5; i++)
        {
            _uncached.RegisterAsync(new ModelRegistration("mnist"), new MemoryStream(RegistryBench.Relu(i))).GetAwaiter().GetResult();
        }

        _uncached.SetAliasAsync("mnist", "production", 3).GetAwaiter().GetResult();
        if (Store == "postgres+s3")
        {
            // The second registry must share the first one's schema.
            _schema = _uncachedServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<ModelKit.Registry.PostgreSql.PostgreSqlRegistryOptions>>().Value.Schema;
            var services = new ServiceCollection();
            services.AddModelKit(o => o.DataDirectory = _dir).AddModelRegistry(r => r.UsePostgreSql(_servers!.PgConnectionString, o => o.Schema = _schema)).AddOnnx();
            _cachedServices = services.BuildServiceProvider();
            _cached = _cachedServices.GetRequiredService<IModelRegistry>();
            _pg = NpgsqlDataSource.Create(_servers!.PgConnectionString);
        }
        else
        {
            (_cached, _cachedServices) = RegistryBench.Create(Store, _dir, null, cache: true);
            _sqliteConnection = new SqliteConnectionStringBuilder { DataSource = Path.Combine(_dir, "registry.db"), Pooling = true }.ToString();
        }

        // Warm the cache and wait until the change feed runs.
        for (int i = 0; i < 200; i++)
        {
            _cached.ResolveAsync(_reference).GetAwaiter().GetResult();
            Thread.Sleep(5);
        }

        if (BareQuery() != 3 || ResolveCached() != 3 || ResolveUncached() != 3)
        {
            throw new InvalidOperationException("The paths disagree on the alias target.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _cachedServices.Dispose();
        _uncachedServices.Dispose();
        _pg?.Dispose();
        SqliteConnection.ClearAllPools();
        _servers?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "bare SQL query")]
    public int BareQuery()
    {
        const string Columns = "v.name, v.version, v.digest, v.size_bytes, v.format, v.signature_json, v.metrics{0}, v.tags{0}, v.lineage_json, v.description, v.created_at";
        if (_pg is not null)
        {
            using NpgsqlConnection c = _pg.OpenConnection();
            using var command = new NpgsqlCommand(
                $"SELECT {string.Format(System.Globalization.CultureInfo.InvariantCulture, Columns, "::text")} FROM {_schema}.aliases a JOIN {_schema}.model_versions v ON v.name = a.name AND v.version = a.version WHERE a.name = @n AND a.alias = @a;", c);
            command.Parameters.AddWithValue("n", "mnist");
            command.Parameters.AddWithValue("a", "production");
            using NpgsqlDataReader reader = command.ExecuteReader();
            return ReadRow(reader);
        }

        using var connection = new SqliteConnection(_sqliteConnection);
        connection.Open();
        using SqliteCommand sql = connection.CreateCommand();
        sql.CommandText = $"SELECT {string.Format(System.Globalization.CultureInfo.InvariantCulture, Columns, "_json")} FROM aliases a JOIN model_versions v ON v.name = a.name AND v.version = a.version WHERE a.name = $n AND a.alias = $a;";
        sql.Parameters.AddWithValue("$n", "mnist");
        sql.Parameters.AddWithValue("$a", "production");
        using SqliteDataReader r = sql.ExecuteReader();
        return ReadRow(r);
    }

    [Benchmark(Description = "ResolveAsync, no cache")]
    public int ResolveUncached() => _uncached.ResolveAsync(_reference).GetAwaiter().GetResult().Version;

    [Benchmark(Description = "ResolveAsync, cache kept by change feed")]
    public int ResolveCached() => _cached.ResolveAsync(_reference).GetAwaiter().GetResult().Version;

    private static int ReadRow(System.Data.Common.DbDataReader reader)
    {
        reader.Read();
        int version = reader.GetInt32(1);
        for (int i = 0; i < reader.FieldCount; i++)
        {
            _ = reader.IsDBNull(i) ? null : reader.GetValue(i);
        }

        return version;
    }
}

/// <summary>
/// Registering one small ONNX artifact (a Relu model, about 150 bytes; new bytes every time) against the bare durable
/// writes underneath: SQLite + files: the bytes written to a new file and flushed, plus one INSERT committed with
/// synchronous = FULL; PostgreSQL + S3: one S3 PutObject plus one INSERT committed.
/// </summary>
[InProcess]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public class RegistryRegisterSmallBenchmarks
{
    private string _dir = null!;
    private RegistryBenchServers? _servers;
    private ServiceProvider _services = null!;
    private IModelRegistry _registry = null!;
    private AmazonS3Client? _s3;
    private NpgsqlDataSource? _pg;
    private string _sqlite = null!;
    private int _width;

    [Params("sqlite+files", "postgres+s3")]
    public string Store { get; set; } = "sqlite+files";

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "modelkit-bench-small-" + Guid.NewGuid().ToString("N")[..8]);
        _servers = Store == "postgres+s3" ? new RegistryBenchServers() : null;
        (_registry, _services) = RegistryBench.Create(Store, _dir, _servers, cache: true);
        _registry.ListModelsAsync().GetAwaiter().GetResult();
        Directory.CreateDirectory(Path.Combine(_dir, "bare"));
        if (_servers is not null)
        {
            _s3 = RegistryBench.S3(_servers);
            _pg = NpgsqlDataSource.Create(_servers.PgConnectionString);
            using NpgsqlCommand create = _pg.CreateCommand("CREATE TABLE IF NOT EXISTS bare_versions (name text, version int, digest text, body text);");
            create.ExecuteNonQuery();
        }
        else
        {
            _sqlite = new SqliteConnectionStringBuilder { DataSource = Path.Combine(_dir, "bare", "bare.db"), Pooling = true }.ToString();
            using var c = new SqliteConnection(_sqlite);
            c.Open();
            using SqliteCommand create = c.CreateCommand();
            create.CommandText = "PRAGMA journal_mode = WAL; CREATE TABLE bare_versions (name TEXT, version INTEGER, digest TEXT, body TEXT);";
            create.ExecuteNonQuery();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        _s3?.Dispose();
        _pg?.Dispose();
        SqliteConnection.ClearAllPools();
        _servers?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "bare durable put + INSERT")]
    public void BarePut()
    {
        byte[] bytes = RegistryBench.Relu(++_width);
        string name = "bare-" + _width.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (_s3 is not null)
        {
            _s3.PutObjectAsync(new PutObjectRequest { BucketName = "bench", Key = "bare/" + name, InputStream = new MemoryStream(bytes), UseChunkEncoding = false })
                .GetAwaiter().GetResult();
            using NpgsqlCommand insert = _pg!.CreateCommand("INSERT INTO bare_versions VALUES ('bare', @v, @n, '{}');");
            insert.Parameters.AddWithValue("v", _width);
            insert.Parameters.AddWithValue("n", name);
            insert.ExecuteNonQuery();
            return;
        }

        using (var file = new FileStream(Path.Combine(_dir, "bare", name), FileMode.CreateNew, FileAccess.Write, FileShare.None, 0))
        {
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }

        using var c = new SqliteConnection(_sqlite);
        c.Open();
        using SqliteCommand sql = c.CreateCommand();
        sql.CommandText = "PRAGMA synchronous = FULL; INSERT INTO bare_versions VALUES ('bare', $v, $n, '{}');";
        sql.Parameters.AddWithValue("$v", _width);
        sql.Parameters.AddWithValue("$n", name);
        sql.ExecuteNonQuery();
    }

    [Benchmark(Description = "RegisterAsync")]
    public int Register() =>
        _registry.RegisterAsync(new ModelRegistration("small"), new MemoryStream(RegistryBench.Relu(++_width))).GetAwaiter().GetResult().Version;
}

/// <summary>
/// Registering a 200 MB ONNX model (one float initializer of 52,428,800 elements; new bytes every iteration) against the
/// bare copy underneath: SQLite + files: the same bytes written to a new file and flushed to disk; PostgreSQL + S3: one S3
/// PutObject of the same bytes, and the multipart upload the S3 store performs for an artifact this size. The registry also
/// hashes (SHA-256), parses and validates the ONNX model, and records the version.
/// </summary>
[InProcess]
[WarmupCount(1)]
[IterationCount(5)]
[InvocationCount(1, 1)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public class RegistryRegisterLargeBenchmarks
{
    private string _dir = null!;
    private RegistryBenchServers? _servers;
    private ServiceProvider _services = null!;
    private IModelRegistry _registry = null!;
    private AmazonS3Client? _s3;
    private byte[] _model = null!;
    private int _markerOffset;
    private int _round;
    private string _validationCopy = null!;

    [Params("sqlite+files", "postgres+s3")]
    public string Store { get; set; } = "sqlite+files";

    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "modelkit-bench-large-" + Guid.NewGuid().ToString("N")[..8]);
        _servers = Store == "postgres+s3" ? new RegistryBenchServers() : null;
        (_registry, _services) = RegistryBench.Create(Store, _dir, _servers, cache: true);
        _registry.ListModelsAsync().GetAwaiter().GetResult();
        _s3 = _servers is null ? null : RegistryBench.S3(_servers);
        _model = RegistryBench.LargeModel(out _markerOffset);
        Directory.CreateDirectory(Path.Combine(_dir, "bare"));
        _validationCopy = _dir + "-validate.onnx";
        File.WriteAllBytes(_validationCopy, _model);
    }

    [IterationSetup]
    public void MakeNewBytes() => BitConverter.TryWriteBytes(_model.AsSpan(_markerOffset), (float)++_round);

    [IterationCleanup]
    public void DeleteWhatWasWritten()
    {
        foreach (string file in Directory.EnumerateFiles(_dir, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".db", StringComparison.Ordinal) && !f.Contains(".db-", StringComparison.Ordinal)))
        {
            File.Delete(file);
        }

        if (_s3 is not null)
        {
            foreach (S3Object o in _s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "bench" }).GetAwaiter().GetResult().S3Objects ?? [])
            {
                _s3.DeleteObjectAsync("bench", o.Key).GetAwaiter().GetResult();
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        _s3?.Dispose();
        SqliteConnection.ClearAllPools();
        _servers?.Dispose();
        Directory.Delete(_dir, recursive: true);
        File.Delete(_validationCopy);
    }

    [Benchmark(Baseline = true, Description = "bare copy (file + flush, or S3 PutObject)")]
    public void BareCopy()
    {
        if (_s3 is not null)
        {
            _s3.PutObjectAsync(new PutObjectRequest { BucketName = "bench", Key = "bare/large", InputStream = new MemoryStream(_model), UseChunkEncoding = false })
                .GetAwaiter().GetResult();
            return;
        }

        using var file = new FileStream(Path.Combine(_dir, "bare", "large"), FileMode.Create, FileAccess.Write, FileShare.None, 0);
        new MemoryStream(_model).CopyTo(file, 1 << 20);
        file.Flush(flushToDisk: true);
    }

    [Benchmark(Description = "RegisterAsync 200 MB")]
    public int Register() =>
        _registry.RegisterAsync(new ModelRegistration("large"), new MemoryStream(_model)).GetAwaiter().GetResult().Version;

    /// <summary>
    /// The S3 operation <see cref="Register"/> really performs for 200 MB with the default options: a multipart upload in
    /// 16 MiB parts, 4 at once, completed (s3rver then re-reads, hashes and rewrites the parts into one object). Only for
    /// postgres+s3; returns at once for sqlite+files.
    /// </summary>
    [Benchmark(Description = "bare S3 multipart upload (16 MiB parts, 4 at once)")]
    public void BareMultipart()
    {
        if (_s3 is null)
        {
            return;
        }

        const int PartSize = 16 << 20;
        InitiateMultipartUploadResponse start = _s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = "bench", Key = "bare/multipart" })
            .GetAwaiter().GetResult();
        int parts = (_model.Length + PartSize - 1) / PartSize;
        var etags = new PartETag[parts];
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            int offset = i * PartSize;
            int length = Math.Min(PartSize, _model.Length - offset);
            UploadPartResponse part = _s3.UploadPartAsync(new UploadPartRequest
            {
                BucketName = "bench",
                Key = "bare/multipart",
                UploadId = start.UploadId,
                PartNumber = i + 1,
                InputStream = new MemoryStream(_model, offset, length, writable: false),
                PartSize = length,
                IsLastPart = i == parts - 1,
                UseChunkEncoding = false,
            }).GetAwaiter().GetResult();
            etags[i] = new PartETag(i + 1, part.ETag);
        });
        _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = "bench", Key = "bare/multipart", UploadId = start.UploadId, PartETags = [.. etags] })
            .GetAwaiter().GetResult();
    }

    /// <summary>
    /// The part of <see cref="Register"/> that is ModelKit.Onnx's validation of the untrusted model (parse and checks),
    /// measured alone on what the registry inspects: the staged file, which the inspector memory-maps (payloads are not copied).
    /// </summary>
    [Benchmark(Description = "of which: ONNX validation alone")]
    public int ValidateOnly()
    {
        using var file = new FileStream(_validationCopy, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
        return new OnnxModelInspector().Inspect(file).Signature.Inputs.Count;
    }
}
