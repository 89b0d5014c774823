using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace ModelKit.Registry;

/// <summary>
/// A reference to a registered model: <c>name</c> (latest version), <c>name/3</c> (version 3) or
/// <c>name@production</c> (alias). The MLflow URI forms <c>models:/name/3</c> and <c>models:/name@production</c>
/// are accepted too.
/// </summary>
public sealed record ModelReference
{
    private const string UriPrefix = "models:/";

    private ModelReference(string name, int? version, string? alias)
    {
        Name = name;
        Version = version;
        Alias = alias;
    }

    /// <summary>Gets the model name.</summary>
    public string Name { get; }

    /// <summary>Gets the version number (1-based), or <see langword="null"/> when the reference is not to a version.</summary>
    public int? Version { get; }

    /// <summary>Gets the alias, or <see langword="null"/> when the reference is not to an alias.</summary>
    public string? Alias { get; }

    /// <summary>Gets whether the reference means the latest version (neither version nor alias given).</summary>
    public bool IsLatest => Version is null && Alias is null;

    /// <summary>Creates a reference to the latest version of <paramref name="name"/>.</summary>
    /// <param name="name">A valid model name.</param>
    /// <returns>The reference.</returns>
    /// <exception cref="ArgumentException">The name is invalid.</exception>
    public static ModelReference Latest(string name)
    {
        ModelName.ThrowIfInvalid(name);
        return new ModelReference(name, null, null);
    }

    /// <summary>Creates a reference to version <paramref name="version"/> of <paramref name="name"/>.</summary>
    /// <param name="name">A valid model name.</param>
    /// <param name="version">The version, 1 or greater.</param>
    /// <returns>The reference.</returns>
    /// <exception cref="ArgumentException">The name is invalid.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="version"/> is less than 1.</exception>
    public static ModelReference ForVersion(string name, int version)
    {
        ModelName.ThrowIfInvalid(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        return new ModelReference(name, version, null);
    }

    /// <summary>Creates a reference to alias <paramref name="alias"/> of <paramref name="name"/>.</summary>
    /// <param name="name">A valid model name.</param>
    /// <param name="alias">A valid alias name.</param>
    /// <returns>The reference.</returns>
    /// <exception cref="ArgumentException">The name or alias is invalid.</exception>
    public static ModelReference ForAlias(string name, string alias)
    {
        ModelName.ThrowIfInvalid(name);
        ModelName.ThrowIfInvalidAlias(alias);
        return new ModelReference(name, null, alias);
    }

    /// <summary>Parses <c>name</c>, <c>name/3</c>, <c>name@alias</c>, <c>models:/name/3</c> or <c>models:/name@alias</c>.</summary>
    /// <param name="text">The reference text.</param>
    /// <returns>The parsed reference.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is <see langword="null"/>.</exception>
    /// <exception cref="FormatException">The text is not one of the accepted forms; the message quotes it.</exception>
    public static ModelReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out ModelReference? reference)
            ? reference
            : throw new FormatException(
                $"'{text}' is not a model reference: expected 'name', 'name/<version>', 'name@<alias>' or the same after 'models:/', " +
                "with names matching [a-z0-9][a-z0-9._-]* and versions 1 or greater, for example 'fashion-mnist@production'.");
    }

    /// <summary>Tries to parse a model reference; see <see cref="Parse(string)"/> for the accepted forms.</summary>
    /// <param name="text">The reference text.</param>
    /// <param name="reference">The parsed reference when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="text"/> is a valid reference.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out ModelReference? reference)
    {
        reference = null;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        string body = text.StartsWith(UriPrefix, StringComparison.Ordinal) ? text[UriPrefix.Length..] : text;
        int at = body.IndexOf('@', StringComparison.Ordinal);
        int slash = body.IndexOf('/', StringComparison.Ordinal);
        if (at >= 0 && slash >= 0)
        {
            return false;
        }

        if (at >= 0)
        {
            string name = body[..at];
            string alias = body[(at + 1)..];
            if (!ModelName.IsValid(name) || !ModelName.IsValid(alias))
            {
                return false;
            }

            reference = new ModelReference(name, null, alias);
            return true;
        }

        if (slash >= 0)
        {
            string name = body[..slash];
            string versionText = body[(slash + 1)..];
            if (!ModelName.IsValid(name) || versionText.Length == 0 || !versionText.All(char.IsAsciiDigit) ||
                !int.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out int version) || version < 1)
            {
                return false;
            }

            reference = new ModelReference(name, version, null);
            return true;
        }

        if (!ModelName.IsValid(body))
        {
            return false;
        }

        reference = new ModelReference(body, null, null);
        return true;
    }

    /// <summary>Returns the short form: <c>name</c>, <c>name/3</c> or <c>name@alias</c>.</summary>
    /// <returns>The reference text.</returns>
    public override string ToString() =>
        Alias is not null ? $"{Name}@{Alias}" :
        Version is not null ? string.Create(CultureInfo.InvariantCulture, $"{Name}/{Version}") :
        Name;
}
