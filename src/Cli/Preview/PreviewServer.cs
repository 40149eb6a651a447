using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using IlgpuStyle.Cli.Commands;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace IlgpuStyle.Cli.Preview;

/// <summary>
/// The --preview web server: Kestrel on 127.0.0.1 only (never another address; port 0 = a free one), serving the page
/// (GET /), the state as JSON (GET /state?from=N) and the latest image as PNG (GET /image). Built from an empty host:
/// no appsettings.json, no ASPNETCORE_URLS or other environment configuration can add an endpoint.
/// </summary>
public sealed class PreviewServer : IDisposable
{
    /// <summary>How long an ended run waits for a watching page to fetch the final image.</summary>
    public static readonly TimeSpan LingerLimit = TimeSpan.FromSeconds(5);

    /// <summary>A page that asked for the state this recently is watching: <see cref="Linger"/> waits for it.</summary>
    private static readonly TimeSpan Watching = TimeSpan.FromSeconds(3);

    private readonly WebApplication app;
    private readonly PreviewState state;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly ManualResetEventSlim finalImageServed = new();
    private long lastStateRequestTicks = -1;

    private PreviewServer(WebApplication app, PreviewState state, Uri url)
    {
        this.app = app;
        this.state = state;
        Url = url;
    }

    /// <summary>The page's address, http://127.0.0.1:PORT/.</summary>
    public Uri Url { get; }

    /// <summary>What the page shows: attach it to the run as an observer.</summary>
    public PreviewState State => state;

    /// <summary>Starts serving <paramref name="state"/> on 127.0.0.1:<paramref name="port"/>; a port in use or not
    /// allowed is a <see cref="UsageException"/>.</summary>
    public static PreviewServer Start(PreviewState state, int port)
    {
        if (port is < 0 or > IPEndPoint.MaxPort)
            throw new UsageException($"--preview-port {port}: use a port from 1 to {IPEndPoint.MaxPort}, or 0 for any free port.");
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        PreviewServer? server = null;
        app.MapGet("/", () => Results.Text(PreviewPage.Html, "text/html; charset=utf-8"));
        app.MapGet("/state", (int? from) => server!.ServeState(from ?? 0));
        app.MapGet("/image", () => server!.ServeImage());
        try
        {
            app.StartAsync().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw new UsageException($"--preview-port {port}: cannot listen on 127.0.0.1:{port}: {(e.InnerException ?? e).Message}");
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server = new PreviewServer(app, state, new Uri(new Uri(address), "/"));
        return server;
    }

    private IResult ServeState(int from)
    {
        Interlocked.Exchange(ref lastStateRequestTicks, clock.Elapsed.Ticks);
        return Results.Json(state.Read(from), statusCode: 200);
    }

    private IResult ServeImage()
    {
        bool ended = state.Ended;   // read before the image: the final image is the last version
        if (state.Png() is not { } png) return Results.NotFound();
        if (ended && png.Version == state.ImageVersion) finalImageServed.Set();
        return new PngResult(png.Version, png.Png);
    }

    /// <summary>
    /// After the run ended: if a page is watching (it asked for the state within the last 3 s), waits until it has
    /// fetched the final image, at most <paramref name="limit"/>; with nobody watching, returns at once. So an open
    /// page ends showing the final state and image, and an unwatched or non-interactive run exits promptly.
    /// </summary>
    /// <returns>Whether it waited for a page.</returns>
    public bool Linger(TimeSpan limit)
    {
        long last = Interlocked.Read(ref lastStateRequestTicks);
        if (!state.Ended || last < 0 || clock.Elapsed - TimeSpan.FromTicks(last) > Watching) return false;
        finalImageServed.Wait(limit);
        return true;
    }

    /// <summary>Lingers for a watching page if the run ended (<see cref="Linger"/>, at most <see cref="LingerLimit"/>),
    /// then stops: on every way out of the command — finished, cancelled, failed — with one `using`.</summary>
    public void Dispose()
    {
        Linger(LingerLimit);
        // Open keep-alive connections must not hold the process: stop within a second.
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
            app.StopAsync(stop.Token).GetAwaiter().GetResult();
        app.DisposeAsync().AsTask().GetAwaiter().GetResult();
        finalImageServed.Dispose();
    }

    /// <summary>The PNG bytes, never cached by the browser, with their version in X-Image-Version.</summary>
    private sealed class PngResult(int version, byte[] png) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.ContentType = "image/png";
            context.Response.Headers.CacheControl = "no-store";
            context.Response.Headers["X-Image-Version"] = version.ToString(System.Globalization.CultureInfo.InvariantCulture);
            context.Response.ContentLength = png.Length;
            return context.Response.Body.WriteAsync(png).AsTask();
        }
    }
}
