using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ModelKit.Registry.PostgreSql;

/// <summary>Options of the PostgreSQL metadata store.</summary>
public sealed class PostgreSqlRegistryOptions
{
    /// <summary>Gets or sets the Npgsql connection string, for example <c>Host=db;Database=modelkit;Username=modelkit;Password=…</c>.</summary>
    /// <value>The default is <see langword="null"/>; a value is required.</value>
    [Required]
    public string? ConnectionString { get; set; }

    /// <summary>Gets or sets the database schema that holds the registry's tables; created on first use.</summary>
    /// <value>The default is <c>modelkit</c>.</value>
    [RegularExpression("^[a-z_][a-z0-9_]{0,62}$", ErrorMessage = "PostgreSqlRegistryOptions.Schema must match [a-z_][a-z0-9_]{0,62}, for example 'modelkit'.")]
    public string Schema { get; set; } = "modelkit";
}

/// <summary>Checks <see cref="PostgreSqlRegistryOptions"/>; messages quote the values.</summary>
internal sealed class PostgreSqlRegistryOptionsValidator : IValidateOptions<PostgreSqlRegistryOptions>
{
    public ValidateOptionsResult Validate(string? name, PostgreSqlRegistryOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            return ValidateOptionsResult.Fail(
                "PostgreSqlRegistryOptions.ConnectionString is empty; pass it to UsePostgreSql(\"Host=…;Database=…;Username=…\").");
        }

        try
        {
            _ = new Npgsql.NpgsqlConnectionStringBuilder(options.ConnectionString);
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail($"PostgreSqlRegistryOptions.ConnectionString is not a valid Npgsql connection string: {ex.Message}");
        }

        return ValidateOptionsResult.Success;
    }
}
