using System.Net;
using System.Net.Sockets;
using IlgpuStyle.Cli;
using IlgpuStyle.Network.Weights;
using Xunit;

namespace IlgpuStyle.Tests.Weights;

/// <summary>A full-size fake torchvision VGG19 .pth, written once for the CLI tests.</summary>
public sealed class FakeVgg19Pth : IDisposable
{
    public TempDir Dir { get; } = new();
    public string Path { get; }

    public FakeVgg19Pth()
    {
        Path = Dir.File("vgg19-fake.pth");
        TorchSaveWriter.WriteLegacy(Path, TorchCheckpointTests.FakeVgg19());
    }

    public void Dispose() => Dir.Dispose();
}

/// <summary>`ilgpu-style weights …` run in-process through Program.Main: exit codes, stdout, one-line stderr errors.</summary>
public class WeightsCliTests(FakeVgg19Pth fake, ITestOutputHelper log) : IClassFixture<FakeVgg19Pth>
{
    private (int Code, string Out, string Err) Run(params string[] args)
    {
        var (code, stdout, stderr) = CliRunner.Run(args);
        log.WriteLine($"$ ilgpu-style {string.Join(' ', args)}  → exit {code}");
        log.WriteLine(stdout);
        if (stderr.Length > 0) log.WriteLine("stderr: " + stderr);
        return (code, stdout, stderr);
    }

    private static void AssertOneLineError((int Code, string Out, string Err) r, string expected)
    {
        Assert.NotEqual(0, r.Code);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
    }

    [Fact]
    public void ConvertPrintsEveryLayerAndInfoVerifiesTheFile()
    {
        using var dir = new TempDir();
        var output = dir.File("out/vgg19.ilgw");
        var r = Run("weights", "convert", "--from", fake.Path, "--out", output);
        Assert.Equal(0, r.Code);
        Assert.Empty(r.Err);
        foreach (var l in Vgg19Layout.ConvLayers)
            Assert.Contains($"{l.Name,-8} {l.Cout}×{l.Cin}×3×3", r.Out);
        Assert.Contains("vgg19-fake.pth float32", r.Out);
        Assert.Contains($"wrote {output}", r.Out);
        var sha = VggWeights.Load(output).Sha256!;
        Assert.Contains($"sha256 {sha}", r.Out);

        var info = Run("weights", "info", output);
        Assert.Equal(0, info.Code);
        Assert.Contains($"{sha} (verified)", info.Out);
        Assert.Contains("RGB, input scale 1, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]", info.Out);
        Assert.Contains("conv5_4.weight   512×512×3×3    f32    vgg19-fake.pth float32", info.Out);
        Assert.Contains("complete", info.Out);
    }

    [Fact]
    public void ConvertToF16ReportsTheRoundingError()
    {
        using var dir = new TempDir();
        var output = dir.File("vgg19-f16.ilgw");
        var r = Run("weights", "convert", "--from", fake.Path, "--out", output, "--dtype", "f16");
        Assert.Equal(0, r.Code);
        Assert.Contains("f16 storage: max |f32 − f16| = 0E+0", r.Out);   // the fake holds small integers: exact in f16
        var info = Run("weights", "info", output);
        Assert.Equal(0, info.Code);
        Assert.Contains("stored f16", info.Out);
        Assert.Equal(StorageDType.F16, VggWeights.Load(output).StoredAs);
    }

    [Fact]
    public void PreprocessingCanBeOverriddenForCaffeModelsSavedAsPth()
    {
        using var dir = new TempDir();
        var output = dir.File("caffe.ilgw");
        var r = Run("weights", "convert", "--from", fake.Path, "--out", output, "--preprocessing", "caffe");
        Assert.Equal(0, r.Code);
        Assert.Equal(Preprocessing.KerasImagenet, VggWeights.Load(output).Preprocessing);
        Assert.Contains("preprocessing: BGR, input scale 255", r.Out);
    }

    [Fact]
    public void InfoOnACorruptFileIsOneErrorLine()
    {
        using var dir = new TempDir();
        var output = dir.File("w.ilgw");
        Assert.Equal(0, Run("weights", "convert", "--from", fake.Path, "--out", output).Code);
        var bytes = File.ReadAllBytes(output);
        bytes[^100] ^= 1;
        File.WriteAllBytes(output, bytes);
        AssertOneLineError(Run("weights", "info", output), $"{output}: checksum mismatch");
        AssertOneLineError(Run("weights", "info", dir.File("absent.ilgw")), "does not exist");
        File.WriteAllBytes(output, bytes[..5]);
        AssertOneLineError(Run("weights", "info", output), "truncated");
    }

    [Fact]
    public void ConvertErrorsAreOneLine()
    {
        using var dir = new TempDir();
        AssertOneLineError(Run("weights", "convert", "--from", dir.File("nothing"), "--out", dir.File("o.ilgw")), "no such file or folder");

        var partial = dir.File("two-layers.pth");
        TorchSaveWriter.WriteZip(partial,
        [
            TorchSaveWriter.Dense("features.0.weight", new float[64 * 27], 64, 3, 3, 3),
            TorchSaveWriter.Dense("features.0.bias", new float[64], 64),
        ]);
        AssertOneLineError(Run("weights", "convert", "--from", partial, "--out", dir.File("o.ilgw")), "no input holds conv1_2, conv2_1");
        Assert.False(File.Exists(dir.File("o.ilgw")));

        var r = Run("weights", "convert", "--from", fake.Path);   // --out is required: a parse error
        Assert.NotEqual(0, r.Code);
        r = Run("weights", "convert", "--from", fake.Path, "--out", dir.File("o.ilgw"), "--dtype", "f64");
        Assert.NotEqual(0, r.Code);
    }

    [Fact]
    public void DownloadWithoutInternetFailsWithOneClearLine()
    {
        bool online;
        try { online = Dns.GetHostAddresses("download.pytorch.org").Length > 0; }
        catch (SocketException) { online = false; }
        Assert.SkipWhen(online, "download.pytorch.org resolves: this machine is online, so the offline failure cannot be tested (and we will not fetch 548 MB)");

        using var dir = new TempDir();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var r = Run("weights", "download", "--out", dir.File("vgg19.ilgw"), "--timeout", "5");
        log.WriteLine($"failed after {sw.ElapsedMilliseconds} ms");
        AssertOneLineError(r, $"error: cannot download {TorchvisionDownload.Url}");
        Assert.Contains("offline?", r.Err);
        Assert.Empty(Directory.GetFiles(dir.Path));   // no partial files left behind
    }

    [Fact]
    public void DownloadRejectsAFileWithTheWrongChecksum()
    {
        using var server = new TinyHttpServer(new byte[4096]);
        using var dir = new TempDir();
        var r = Run("weights", "download", "--out", dir.File("vgg19.ilgw"), "--url", server.Url, "--timeout", "5");
        AssertOneLineError(r, "expected it to start with dcbb9e9d");
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public async Task DownloadFetchesVerifiesAndReusesAFile()
    {
        // FetchAsync with the served file's own hash prefix exercises the success path.
        var pth = File.ReadAllBytes(fake.Path);
        using var server = new TinyHttpServer(pth);
        using var dir = new TempDir();
        var dest = dir.File(TorchvisionDownload.FileName);
        var prefix = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(pth))[..8];
        await TorchvisionDownload.FetchAsync(dest, TimeSpan.FromSeconds(5), server.Url, prefix, cancel: TestContext.Current.CancellationToken);
        Assert.Equal(pth, File.ReadAllBytes(dest));
        Assert.Equal(1, server.Requests);
        // Already present with the right hash: reused, not fetched again.
        await TorchvisionDownload.FetchAsync(dest, TimeSpan.FromSeconds(5), server.Url, prefix, cancel: TestContext.Current.CancellationToken);
        Assert.Equal(1, server.Requests);
    }

    [Fact]
    public void ConvertsTheRealSharedWeights()
    {
        var vgg = SharedData.RequireOrSkip();
        using var dir = new TempDir();
        var output = dir.File("vgg19.ilgw");
        var r = Run("weights", "convert", "--from", Path.Combine(vgg, "keras-tfjs-f32-conv1-3"), Path.Combine(vgg, "keras-tfjs-uint8"), "--out", output);
        Assert.Equal(0, r.Code);
        Assert.Contains("conv3_4  256×256×3×3    256    keras-tfjs-f32-conv1-3 float32", r.Out);
        Assert.Contains("conv4_1  512×256×3×3    512    keras-tfjs-uint8 uint8-dequantized", r.Out);
        Assert.Contains("BGR, input scale 255, mean [103.939, 116.779, 123.68], std [1, 1, 1]", r.Out);
        var info = Run("weights", "info", output);
        Assert.Equal(0, info.Code);
        var listed = Vgg19Layout.ConvLayers.Where(l => info.Out.Contains($"{l.Name}.weight   {l.Cout}×{l.Cin}×3×3")).ToList();
        Assert.Equal(16, listed.Count);
        Assert.Contains("VGG19 conv1_1..conv5_4: complete", info.Out);
    }
}

/// <summary>Serves one byte array over HTTP on 127.0.0.1 (any path), counting requests.</summary>
public sealed class TinyHttpServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly byte[] _body;
    private int _requests;

    public string Url { get; }
    public int Requests => Volatile.Read(ref _requests);

    public TinyHttpServer(byte[] body)
    {
        _body = body;
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = $"http://127.0.0.1:{port}/vgg19-dcbb9e9d.pth";
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _ = Task.Run(Serve);
    }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            Interlocked.Increment(ref _requests);
            ctx.Response.ContentLength64 = _body.Length;
            await ctx.Response.OutputStream.WriteAsync(_body);
            ctx.Response.Close();
        }
    }

    public void Dispose() => _listener.Close();
}
