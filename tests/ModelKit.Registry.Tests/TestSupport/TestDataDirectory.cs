using Microsoft.Data.Sqlite;

namespace ModelKit.Registry.Tests.TestSupport;

/// <summary>
/// A fresh root folder per test with the data directory <c>Root/data</c> inside it, so a test can check that
/// nothing is written beside the data directory. Deleted on dispose.
/// </summary>
internal sealed class TestDataDirectory : IDisposable
{
    public TestDataDirectory()
    {
        Root = Path.Combine(Path.GetTempPath(), "modelkit-registry-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        DataDirectory = Path.Combine(Root, "data");
    }

    public string Root { get; }

    public string DataDirectory { get; }

    public string DatabasePath => Path.Combine(DataDirectory, "registry.db");

    public string TempBlobDirectory => Path.Combine(DataDirectory, "blobs", "tmp");

    /// <summary>Every stored blob file (under <c>blobs/sha256/</c>).</summary>
    public string[] BlobFiles()
    {
        string dir = Path.Combine(DataDirectory, "blobs", "sha256");
        return Directory.Exists(dir) ? Directory.GetFiles(dir, "*", SearchOption.AllDirectories) : [];
    }

    /// <summary>Every file left in <c>blobs/tmp/</c>.</summary>
    public string[] TempFiles() =>
        Directory.Exists(TempBlobDirectory) ? Directory.GetFiles(TempBlobDirectory, "*", SearchOption.AllDirectories) : [];

    /// <summary>Counts the rows of a registry table, reading the database directly.</summary>
    public long CountRows(string table)
    {
        if (!File.Exists(DatabasePath))
        {
            return 0;
        }

        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = table switch
        {
            "models" => "SELECT COUNT(*) FROM models;",
            "model_versions" => "SELECT COUNT(*) FROM model_versions;",
            "aliases" => "SELECT COUNT(*) FROM aliases;",
            "alias_changes" => "SELECT COUNT(*) FROM changes WHERE kind IN (2, 3);",
            "changes" => "SELECT COUNT(*) FROM changes;",
            "artifact_pins" => "SELECT COUNT(*) FROM artifact_pins;",
            _ => throw new ArgumentOutOfRangeException(nameof(table), table, "Unknown registry table."),
        };
        return (long)command.ExecuteScalar()!;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
