namespace ModelKit.Registry;

/// <summary>Artifact digests: <c>sha256:</c> followed by 64 lowercase hexadecimal digits.</summary>
public static class ArtifactDigest
{
    /// <summary>The prefix of every digest.</summary>
    public const string Prefix = "sha256:";

    /// <summary>Returns whether <paramref name="digest"/> is <c>sha256:</c> followed by 64 lowercase hex digits, and its hex part.</summary>
    /// <param name="digest">The candidate digest.</param>
    /// <param name="sha256Hex">The 64 hex digits when the method returns <see langword="true"/>; otherwise empty.</param>
    /// <returns><see langword="true"/> when well formed.</returns>
    public static bool TryParse(string? digest, out string sha256Hex)
    {
        sha256Hex = string.Empty;
        if (digest is null || digest.Length != Prefix.Length + 64 || !digest.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (char c in digest.AsSpan(Prefix.Length))
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        sha256Hex = digest[Prefix.Length..];
        return true;
    }

    /// <summary>Returns the 64 hex digits of a well-formed digest.</summary>
    /// <param name="digest">The digest.</param>
    /// <returns>The hex part.</returns>
    /// <exception cref="ArgumentException">The digest is not <c>sha256:</c> followed by 64 lowercase hex digits; the message quotes it.</exception>
    public static string GetHex(string digest)
    {
        if (!TryParse(digest, out string hex))
        {
            string shown = digest is null ? "null" : $"'{(digest.Length > 80 ? digest[..80] + "…" : digest)}'";
            throw new ArgumentException(
                $"Invalid artifact digest {shown}: expected 'sha256:' followed by 64 lowercase hexadecimal digits.", nameof(digest));
        }

        return hex;
    }
}
