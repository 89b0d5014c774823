namespace ModelKit.Registry;

/// <summary>Validation of model names and alias names.</summary>
public static class ModelName
{
    /// <summary>The longest accepted name, in characters.</summary>
    public const int MaxLength = 128;

    /// <summary>
    /// Returns whether <paramref name="name"/> is a valid model or alias name: 1 to 128 characters from
    /// <c>[a-z0-9._-]</c>, starting with a lowercase letter or a digit (pattern <c>[a-z0-9][a-z0-9._-]{0,127}</c>).
    /// </summary>
    /// <param name="name">The candidate name.</param>
    /// <returns><see langword="true"/> when valid.</returns>
    public static bool IsValid(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength || !IsLeading(name[0]))
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!IsLeading(c) && c is not ('.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws when <paramref name="name"/> is not a valid model name.</summary>
    /// <param name="name">The candidate name.</param>
    /// <param name="paramName">The parameter name reported in the exception.</param>
    /// <exception cref="ArgumentException">The name does not match <c>[a-z0-9][a-z0-9._-]{0,127}</c>.</exception>
    public static void ThrowIfInvalid(string? name, string paramName = "name") => ThrowIfInvalid(name, "model", paramName);

    /// <summary>Throws when <paramref name="alias"/> is not a valid alias name.</summary>
    /// <param name="alias">The candidate alias.</param>
    /// <param name="paramName">The parameter name reported in the exception.</param>
    /// <exception cref="ArgumentException">The alias does not match <c>[a-z0-9][a-z0-9._-]{0,127}</c>.</exception>
    public static void ThrowIfInvalidAlias(string? alias, string paramName = "alias") => ThrowIfInvalid(alias, "alias", paramName);

    /// <summary>The longest accepted attachment name, in characters.</summary>
    public const int MaxAttachmentNameLength = 256;

    /// <summary>The longest accepted media type, in characters.</summary>
    public const int MaxMediaTypeLength = 127;

    /// <summary>
    /// Returns whether <paramref name="name"/> is a valid attachment name: 1 to 256 characters of one or more segments
    /// separated by <c>/</c>, each segment a valid model name (<c>[a-z0-9][a-z0-9._-]{0,127}</c>), for example
    /// <c>monitoring/profile.json</c>. A segment cannot start with a dot, so <c>.</c> and <c>..</c> are never accepted.
    /// </summary>
    /// <param name="name">The candidate name.</param>
    /// <returns><see langword="true"/> when valid.</returns>
    public static bool IsValidAttachmentName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxAttachmentNameLength)
        {
            return false;
        }

        foreach (string segment in name.Split('/'))
        {
            if (!IsValid(segment))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws when <paramref name="name"/> is not a valid attachment name (see <see cref="IsValidAttachmentName"/>).</summary>
    /// <param name="name">The candidate name.</param>
    /// <param name="paramName">The parameter name reported in the exception.</param>
    /// <exception cref="ArgumentException">The name is not 1 to 256 characters of '/'-separated segments matching <c>[a-z0-9][a-z0-9._-]*</c>.</exception>
    public static void ThrowIfInvalidAttachmentName(string? name, string paramName = "attachmentName")
    {
        if (!IsValidAttachmentName(name))
        {
            throw new ArgumentException(
                $"Invalid attachment name {Show(name)}: expected 1 to {MaxAttachmentNameLength} characters of segments separated by '/', each matching " +
                "[a-z0-9][a-z0-9._-]* (lowercase letters, digits, '.', '_' and '-', starting with a letter or digit). Rename it, for example 'monitoring/profile.json'.",
                paramName);
        }
    }

    /// <summary>
    /// Returns whether <paramref name="mediaType"/> is a media type without parameters (RFC 6838 section 4.2): a type and a
    /// subtype of 1 to 63 characters each, starting with a letter or digit and continuing with letters, digits and
    /// <c>!#$&amp;-^_.+</c>, for example <c>application/json</c>.
    /// </summary>
    /// <param name="mediaType">The candidate media type.</param>
    /// <returns><see langword="true"/> when valid.</returns>
    public static bool IsValidMediaType(string? mediaType)
    {
        if (string.IsNullOrEmpty(mediaType) || mediaType.Length > MaxMediaTypeLength)
        {
            return false;
        }

        int slash = mediaType.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && IsRestrictedName(mediaType.AsSpan(0, slash)) && IsRestrictedName(mediaType.AsSpan(slash + 1));

        static bool IsRestrictedName(ReadOnlySpan<char> part)
        {
            if (part.IsEmpty || part.Length > 63 || !char.IsAsciiLetterOrDigit(part[0]))
            {
                return false;
            }

            foreach (char c in part)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c is not ('!' or '#' or '$' or '&' or '-' or '^' or '_' or '.' or '+'))
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>Throws when <paramref name="mediaType"/> is not a media type without parameters (see <see cref="IsValidMediaType"/>).</summary>
    /// <param name="mediaType">The candidate media type.</param>
    /// <param name="paramName">The parameter name reported in the exception.</param>
    /// <exception cref="ArgumentException">The media type is not of the form <c>type/subtype</c> (RFC 6838 restricted names).</exception>
    public static void ThrowIfInvalidMediaType(string? mediaType, string paramName = "mediaType")
    {
        if (!IsValidMediaType(mediaType))
        {
            throw new ArgumentException(
                $"Invalid media type {Show(mediaType)}: expected 'type/subtype' without parameters (RFC 6838), at most {MaxMediaTypeLength} characters, " +
                "for example 'application/json' or 'application/octet-stream'.",
                paramName);
        }
    }

    private static string Show(string? value) => value is null ? "null" : $"'{(value.Length > 64 ? value[..64] + "…" : value)}'";

    private static void ThrowIfInvalid(string? name, string what, string paramName)
    {
        if (!IsValid(name))
        {
            throw new ArgumentException(
                $"Invalid {what} name {Show(name)}: expected 1 to {MaxLength} characters matching [a-z0-9][a-z0-9._-]* " +
                "(lowercase letters, digits, '.', '_' and '-', starting with a letter or digit). Rename it, for example 'fashion-mnist'.",
                paramName);
        }
    }

    private static bool IsLeading(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');
}
