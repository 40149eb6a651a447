using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text.Json;
using IlgpuStyle.Cli.Preview;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Preview;

/// <summary>
/// The --preview server in-process, fed by hand like a run feeds it, read with HttpClient: where it listens, the JSON
/// state, the PNG image, the end states, and how long it lingers for a watching page.
/// </summary>
public sealed class PreviewServerTests : IDisposable
{
    private readonly PreviewState state = new();
    private readonly PreviewServer server;
    private readonly HttpClient http;

    public PreviewServerTests()
    {
        server = PreviewServer.Start(state, 0);
        http = new HttpClient { BaseAddress = server.Url, Timeout = TimeSpan.FromSeconds(30) };
    }

    public void Dispose()
    {
        http.Dispose();
        server.Dispose();
    }

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static IterationReport Report(int scale, int iteration, float total, int iterations = 10) =>
        new(scale, 2, 40 * scale, 30 * scale, iteration, iterations, new LossValues(total / 4, total / 2, total / 100, total), 0.1, iteration * 0.1);

    private static RgbImage Image(int seed) => Imaging.TestImages.Random8Bit(seed, 40, 30);

    private async Task<JsonElement> State(int from = 0)
    {
        var text = await http.GetStringAsync($"state?from={from}", Cancel);
        return JsonDocument.Parse(text).RootElement;
    }

    private async Task<(int Version, byte[] Png)> Png()
    {
        using var response = await http.GetAsync("image", Cancel);
        response.EnsureSuccessStatusCode();
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        int version = int.Parse(response.Headers.GetValues("X-Image-Version").Single());
        return (version, await response.Content.ReadAsByteArrayAsync(Cancel));
    }

    [Fact]
    public async Task ListensOn127001Only()
    {
        Assert.Equal("127.0.0.1", server.Url.Host);
        Assert.NotEqual(0, server.Url.Port);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("", Cancel)).StatusCode);
        // Every other address of this machine on the same port refuses the connection (IPv6 loopback included).
        var others = NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(a => a.Address)
            .Where(a => !a.Equals(IPAddress.Loopback) && !a.IsIPv6LinkLocal).Append(IPAddress.IPv6Loopback).Distinct()
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork || Socket.OSSupportsIPv6).ToList();
        foreach (var address in others)
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            var refused = await Assert.ThrowsAsync<SocketException>(() => socket.ConnectAsync(address, server.Url.Port, Cancel).AsTask());
            Assert.True(refused.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable or SocketError.NetworkUnreachable,
                $"{address}: {refused.SocketErrorCode}");
        }
    }

    [Fact]
    public void EnvironmentConfigurationAddsNoEndpoint()
    {
        // ASP.NET's default hosts read ASPNETCORE_URLS; the preview's empty host must not (it would open 0.0.0.0).
        int free = FreePort();
        var saved = Environment.GetEnvironmentVariable("ASPNETCORE_URLS");
        Environment.SetEnvironmentVariable("ASPNETCORE_URLS", $"http://0.0.0.0:{free}");
        try
        {
            using var other = PreviewServer.Start(new PreviewState(), 0);
            Assert.Equal("127.0.0.1", other.Url.Host);
            Assert.NotEqual(free, other.Url.Port);
            using var probe = new TcpListener(IPAddress.Any, free);
            probe.Start();   // would throw AddressAlreadyInUse if the server had bound 0.0.0.0:free
        }
        finally
        {
            Environment.SetEnvironmentVariable("ASPNETCORE_URLS", saved);
        }
    }

    [Fact]
    public async Task TheStateHasTheIterationAndEveryLoss()
    {
        var before = await State();
        Assert.Equal("starting", before.GetProperty("status").GetString());
        Assert.Equal(0, before.GetProperty("count").GetInt32());

        state.Message("scale 1/2: 40×30");
        state.Iteration(Report(1, 0, 100));
        state.Iteration(Report(1, 1, 50));
        state.Iteration(Report(1, 2, float.NaN));
        var s = await State();
        Assert.Equal("running", s.GetProperty("status").GetString());
        Assert.Equal("scale 1/2: 40×30", s.GetProperty("message").GetString());
        Assert.Equal(2, s.GetProperty("iteration").GetInt32());
        Assert.Equal(10, s.GetProperty("iterations").GetInt32());
        Assert.Equal((1, 2, 40, 30), (s.GetProperty("scale").GetInt32(), s.GetProperty("scales").GetInt32(),
            s.GetProperty("width").GetInt32(), s.GetProperty("height").GetInt32()));
        var losses = s.GetProperty("losses").EnumerateArray().ToList();
        Assert.Equal(3, losses.Count);
        Assert.Equal([0, 1, 2], losses.Select(l => l.GetProperty("iteration").GetInt32()));
        Assert.Equal(12.5f, losses[1].GetProperty("content").GetSingle());
        Assert.Equal(25f, losses[1].GetProperty("style").GetSingle());
        Assert.Equal(0.5f, losses[1].GetProperty("tv").GetSingle());
        Assert.Equal(50f, losses[1].GetProperty("total").GetSingle());
        Assert.Equal(JsonValueKind.Null, losses[2].GetProperty("total").ValueKind);   // NaN: JSON has none

        // The page asks only for what it has not seen.
        var rest = await State(from: 2);
        Assert.Equal(2, rest.GetProperty("from").GetInt32());
        Assert.Equal(3, rest.GetProperty("count").GetInt32());
        Assert.Equal(2, rest.GetProperty("losses")[0].GetProperty("iteration").GetInt32());
        Assert.Single(rest.GetProperty("losses").EnumerateArray());
    }

    [Fact]
    public async Task TheImageIsTheLatestSnapshotAsPng()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("image", Cancel)).StatusCode);
        var first = Image(1);
        state.Iteration(Report(1, 1, 10));
        state.Snapshot(Report(1, 1, 10), first);
        var (v1, png1) = await Png();
        Assert.Equal(first.Data, ImageLoader.Decode(png1, "image 1").Data);   // 8-bit levels: PNG is exact
        Assert.Equal(v1, (await State()).GetProperty("image").GetInt32());

        var second = Image(2);
        state.Iteration(Report(1, 2, 9));
        state.Snapshot(Report(1, 2, 9), second);
        var (v2, png2) = await Png();
        Assert.True(v2 > v1);
        Assert.NotEqual(png1, png2);
        Assert.Equal(second.Data, ImageLoader.Decode(png2, "image 2").Data);
        var s = await State();
        Assert.Equal(v2, s.GetProperty("image").GetInt32());
        Assert.Equal(2, s.GetProperty("imageIteration").GetInt32());
    }

    [Theory]
    [InlineData(false, null, "finished")]
    [InlineData(true, null, "cancelled")]
    [InlineData(false, "the loss became NaN", "failed")]
    public async Task TheEndStateShowsTheFinalImage(bool cancelled, string? failure, string status)
    {
        state.Iteration(Report(2, 3, 5));
        state.Snapshot(Report(2, 3, 5), Image(3));
        var final = Image(4);
        state.Finished(new StylizeResult(final, new LossValues(1, 2, 3, 4), 1.5, cancelled, [], failure));
        var s = await State();
        Assert.Equal(status, s.GetProperty("status").GetString());
        if (failure is not null) Assert.Equal(failure, s.GetProperty("message").GetString());
        var (version, png) = await Png();
        Assert.Equal(s.GetProperty("image").GetInt32(), version);
        Assert.Equal(final.Data, ImageLoader.Decode(png, "final").Data);

        // Nothing changes after the end (a late report from the run cannot overwrite it).
        state.Iteration(Report(2, 4, 4));
        state.Snapshot(Report(2, 4, 4), Image(5));
        var after = await State();
        Assert.Equal(status, after.GetProperty("status").GetString());
        Assert.Equal(3, after.GetProperty("iteration").GetInt32());
        Assert.Equal(png, (await Png()).Png);
    }

    [Fact]
    public void WithNobodyWatchingTheEndedRunDoesNotWait()
    {
        state.Finished(new StylizeResult(Image(1), default, 1, false, []));
        var clock = Stopwatch.StartNew();
        Assert.False(server.Linger(TimeSpan.FromSeconds(20)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task AWatchingPageIsGivenTheFinalImageBeforeTheServerStops()
    {
        state.Iteration(Report(1, 1, 10));
        await State();   // a page is watching
        state.Finished(new StylizeResult(Image(7), default, 1, false, []));
        var linger = Task.Run(() => server.Linger(TimeSpan.FromSeconds(20)), Cancel);
        await Task.Delay(500, Cancel);
        Assert.False(linger.IsCompleted, "it stopped waiting before the page fetched the final image");
        Assert.Equal("finished", (await State()).GetProperty("status").GetString());
        await Png();
        var clock = Stopwatch.StartNew();
        Assert.True(await linger.WaitAsync(TimeSpan.FromSeconds(5), Cancel));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed} after the final image was served");
    }

    [Fact]
    public async Task ThePageIsSelfContained()
    {
        var html = await http.GetStringAsync("", Cancel);
        foreach (var id in new[] { "status", "iteration", "image", "curve-content", "curve-style", "curve-tv", "curve-total" })
            Assert.Contains($"id=\"{id}\"", html);
        // No external resources: the page must work without internet (no src/href to another origin).
        Assert.DoesNotContain("http://", html);
        Assert.DoesNotContain("https://", html);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
