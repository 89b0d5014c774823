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

    private static void ThrowIfInvalid(string? name, string what, string paramName)
    {
        if (!IsValid(name))
        {
            string shown = name is null ? "null" : $"'{(name.Length > 64 ? name[..64] + "…" : name)}'";
            throw new ArgumentException(
                $"Invalid {what} name {shown}: expected 1 to {MaxLength} characters matching [a-z0-9][a-z0-9._-]* " +
                "(lowercase letters, digits, '.', '_' and '-', starting with a letter or digit). Rename it, for example 'fashion-mnist'.",
                paramName);
        }
    }

    private static bool IsLeading(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');
}
