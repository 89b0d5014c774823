using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>
/// HTTP/1.1 and cleartext HTTP/2 (h2c with prior knowledge, RFC 9113 section 3.3) on one Kestrel port, so that REST
/// clients (HTTP/1.1) and gRPC clients (HTTP/2) share an address without TLS.
/// </summary>
/// <remarks>
/// Kestrel picks the protocol of an <c>Http1AndHttp2</c> endpoint through TLS ALPN; without TLS it speaks HTTP/1.1 only
/// (dotnet/aspnetcore#56984). This extension inspects the first 24 bytes a client sends: the HTTP/2 client connection
/// preface (<c>PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n</c>, RFC 9113 section 3.4) hands the connection, with nothing consumed,
/// to Kestrel's HTTP/2 connection handler; anything else goes on to HTTP/1.1. Kestrel's HTTP/2 handler is taken, through
/// public API only, from a second endpoint that this method binds on 127.0.0.1 with an ephemeral port (HTTP/2 only);
/// that endpoint also serves cleartext HTTP/2 and appears among the server's addresses. The HTTP/1.1 <c>Upgrade: h2c</c>
/// dance is not supported (gRPC clients and <c>curl --http2-prior-knowledge</c> do not use it). With TLS, use
/// <c>HttpProtocols.Http1AndHttp2</c> and ALPN instead.
/// </remarks>
public static class KestrelCleartextHttp2Extensions
{
    private static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>
    /// Listens on <paramref name="endPoint"/> for HTTP/1.1 and cleartext HTTP/2 with prior knowledge on the same port.
    /// A client that sends no complete first bytes within <see cref="KestrelServerLimits.RequestHeadersTimeout"/>
    /// is disconnected.
    /// </summary>
    /// <param name="options">Kestrel's options (inside <c>ConfigureKestrel</c>).</param>
    /// <param name="endPoint">The address and port; port 0 picks a free port (read it back from the returned options' <see cref="ListenOptions.IPEndPoint"/> after start).</param>
    /// <returns>The public endpoint's options. Do not add TLS to it or change its <see cref="ListenOptions.Protocols"/> (HTTP/1.1; HTTP/2 is chosen per connection).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="endPoint"/> is <see langword="null"/>.</exception>
    public static ListenOptions ListenHttp1AndHttp2Cleartext(this KestrelServerOptions options, IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(endPoint);
        ConnectionDelegate? http2 = null;

        // Bound before the public endpoint (Kestrel binds in order), so the HTTP/2 handler is known before any
        // connection reaches the public port.
        options.Listen(IPAddress.Loopback, 0, o =>
        {
            o.Protocols = HttpProtocols.Http2;
            o.Use(next => http2 = next);
        });

        ListenOptions? result = null;
        options.Listen(endPoint, o =>
        {
            o.Protocols = HttpProtocols.Http1;
            o.Use(next => connection => DispatchAsync(connection, next, http2, options.Limits.RequestHeadersTimeout));
            result = o;
        });
        return result!;
    }

    /// <summary>
    /// Listens on every URL of <paramref name="urls"/> for HTTP/1.1 and HTTP/2 on the same port, so that REST and gRPC
    /// clients share each address: an <c>http://</c> URL gets cleartext HTTP/1.1 and prior-knowledge HTTP/2
    /// (<see cref="ListenHttp1AndHttp2Cleartext(KestrelServerOptions, IPEndPoint)"/>), an <c>https://</c> URL gets
    /// <see cref="HttpProtocols.Http1AndHttp2"/> over TLS (ALPN) with Kestrel's default certificate. The URLs are written
    /// as for the host's <c>urls</c> setting (<c>--urls</c>, <c>ASPNETCORE_URLS</c>), which a host can pass here so that
    /// those addresses serve both protocols; note that endpoints configured in code replace that setting's, so call this
    /// for all of them.
    /// </summary>
    /// <param name="options">Kestrel's options (inside <c>ConfigureKestrel</c>).</param>
    /// <param name="urls">One or more URLs separated by <c>;</c>, each <c>scheme://host:port</c> without a path:
    /// the host an IP address (IPv6 in brackets), <c>localhost</c> (binds 127.0.0.1) or <c>*</c>, <c>+</c> or any other
    /// name (binds every IPv4 address, like Kestrel); port 0 picks a free port (read it back from the returned options'
    /// <see cref="ListenOptions.IPEndPoint"/> after start). For example <c>http://127.0.0.1:8080;http://[::1]:8080</c>.</param>
    /// <returns>The public endpoints' options, one per URL, in order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="urls"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="urls"/> holds no URL, or a URL is not <c>http://</c> or
    /// <c>https://</c> with a host and port and no path (the message quotes it and gives an example).</exception>
    public static IReadOnlyList<ListenOptions> ListenHttp1AndHttp2(this KestrelServerOptions options, string urls)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(urls);
        string[] parts = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            throw new ArgumentException($"'{urls}' holds no URL; give one or more URLs separated by ';', for example http://127.0.0.1:8080.", nameof(urls));
        }

        var endpoints = new List<(IPEndPoint EndPoint, bool Https)>(parts.Length);
        foreach (string url in parts)
        {
            BindingAddress address;
            try
            {
                address = BindingAddress.Parse(url);
            }
            catch (FormatException ex)
            {
                throw new ArgumentException($"'{url}' is not a URL like http://127.0.0.1:8080 ({ex.Message}).", nameof(urls), ex);
            }

            bool https = string.Equals(address.Scheme, "https", StringComparison.OrdinalIgnoreCase);
            if ((!https && !string.Equals(address.Scheme, "http", StringComparison.OrdinalIgnoreCase)) || address.IsUnixPipe || address.Port < 0)
            {
                throw new ArgumentException($"'{url}' is not an http:// or https:// URL with a host and port; write it like http://127.0.0.1:8080.", nameof(urls));
            }

            if (address.PathBase.Length > 0)
            {
                throw new ArgumentException($"'{url}' has the path '{address.PathBase}'; Kestrel endpoints take no path, so give scheme://host:port only (use UsePathBase for a path prefix).", nameof(urls));
            }

            IPAddress ip = string.Equals(address.Host, "localhost", StringComparison.OrdinalIgnoreCase)
                ? IPAddress.Loopback
                : IPAddress.TryParse(address.Host.Trim('[', ']'), out IPAddress? parsed) ? parsed : IPAddress.Any;
            endpoints.Add((new IPEndPoint(ip, address.Port), https));
        }

        var result = new List<ListenOptions>(endpoints.Count);
        foreach ((IPEndPoint endPoint, bool https) in endpoints)
        {
            if (!https)
            {
                result.Add(options.ListenHttp1AndHttp2Cleartext(endPoint));
                continue;
            }

            options.Listen(endPoint, o =>
            {
                o.Protocols = HttpProtocols.Http1AndHttp2;
                o.UseHttps();
                result.Add(o);
            });
        }

        return result;
    }

    private static async Task DispatchAsync(ConnectionContext connection, ConnectionDelegate http1, ConnectionDelegate? http2, TimeSpan timeout)
    {
        bool isHttp2;
        using (var cts = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed))
        {
            cts.CancelAfter(timeout);
            try
            {
                isHttp2 = await StartsWithPrefaceAsync(connection.Transport.Input, cts.Token);
            }
            catch (OperationCanceledException)
            {
                connection.Abort(new ConnectionAbortedException("The client sent no request within the request headers timeout."));
                return;
            }
        }

        await (isHttp2 && http2 is not null ? http2(connection) : http1(connection));
    }

    /// <summary>Reads until the first bytes match or rule out the preface, consuming nothing.</summary>
    internal static async ValueTask<bool> StartsWithPrefaceAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult read = await input.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = read.Buffer;
            (bool matchesSoFar, bool complete) = Compare(buffer);
            if (!matchesSoFar || complete || read.IsCompleted || read.IsCanceled)
            {
                input.AdvanceTo(buffer.Start);
                return matchesSoFar && complete;
            }

            // A prefix of the preface: wait for more bytes, examined but not consumed.
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static (bool MatchesSoFar, bool Complete) Compare(ReadOnlySequence<byte> buffer)
    {
        int length = (int)Math.Min(buffer.Length, Preface.Length);
        Span<byte> head = stackalloc byte[24];
        buffer.Slice(0, length).CopyTo(head);
        return (head[..length].SequenceEqual(Preface[..length]), length == Preface.Length);
    }
}
