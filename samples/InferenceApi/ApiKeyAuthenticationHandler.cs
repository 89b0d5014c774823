using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace InferenceApi;

/// <summary>Options of <see cref="ApiKeyAuthenticationHandler"/>.</summary>
public sealed class ApiKeyAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>Gets or sets the accepted keys; empty accepts none.</summary>
    public IReadOnlyList<string> Keys { get; set; } = [];
}

/// <summary>Authenticates a request whose <c>X-Api-Key</c> header holds one of the configured keys (compared in constant time).</summary>
public sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<ApiKeyAuthenticationOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<ApiKeyAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(HeaderName, out var values) || values.Count != 1 || string.IsNullOrEmpty(values[0]))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        byte[] presented = Encoding.UTF8.GetBytes(values[0]!);
        for (int i = 0; i < Options.Keys.Count; i++)
        {
            if (CryptographicOperations.FixedTimeEquals(presented, Encoding.UTF8.GetBytes(Options.Keys[i])))
            {
                var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, $"api-key-{i}")], SchemeName);
                return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
            }
        }

        return Task.FromResult(AuthenticateResult.Fail("The X-Api-Key header holds no configured key."));
    }
}
