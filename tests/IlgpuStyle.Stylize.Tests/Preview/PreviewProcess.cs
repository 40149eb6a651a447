using System.Diagnostics;
using System.Text;
using System.Text.Json;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Preview;

/// <summary>
/// A real `ilgpu-style stylize --preview` child process on the cpu device with tiny weights and generated images (no
/// shared data needed), its preview URL (read from the `preview: URL` line on stderr) and an HttpClient for it.
/// </summary>
public sealed class PreviewProcess : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-preview-").FullName;
    private readonly StringBuilder stderr = new();
    private readonly TaskCompletionSource<Uri> url = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task stderrDone;

    /// <param name="iterations">Adam iterations per scale (Adam: the image changes at every step).</param>
    /// <param name="scales">1: one 16 px scale; 2: 16 and 32 px. Two layers only (relu1_1, relu1_2): the cpu device
    /// (ILGPU's simulator) takes about a second per iteration at 16 px on an idle 2-core machine.</param>
    public PreviewProcess(int iterations, int scales = 1, params string[] extra)
    {
        var content = Path.Combine(dir, "content.png");
        var style = Path.Combine(dir, "style.png");
        ImageWriter.Save(Imaging.TestImages.Smooth(48, 32), content);
        ImageWriter.Save(Imaging.TestImages.Uniform(3, 24, 24), style);
        Output = Path.Combine(dir, "out.png");
        Process = CliProcess.Start(["stylize", "--content", content, "--style", style, "--output", Output, "--size", (16 << (scales - 1)).ToString(),
            "--scales", scales.ToString(), "--iterations", iterations.ToString(), "--optimizer", "adam", "--learning-rate", "0.05",
            "--content-layers", "relu1_2", "--style-layers", "relu1_1", "--device", "cpu", "--weights", TinyWeights.Write(dir),
            "--print-every", "1", "--preview", .. extra]);
        _ = Process.StandardOutput.ReadToEndAsync(Cancel);   // drained, so it never blocks the child
        stderrDone = Task.Run(async () =>
        {
            while (await Process.StandardError.ReadLineAsync() is { } line)
            {
                lock (stderr) stderr.AppendLine(line);
                if (line.StartsWith("preview: ", StringComparison.Ordinal)) url.TrySetResult(new Uri(line["preview: ".Length..]));
            }
            url.TrySetException(new InvalidOperationException($"no `preview:` line on stderr:\n{Stderr}"));
        });
        Http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
    }

    public Process Process { get; }
    public string Output { get; }
    public HttpClient Http { get; }
    public string Stderr { get { lock (stderr) return stderr.ToString(); } }

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>The page's URL, once the process printed it.</summary>
    public async Task<Uri> Url() => await url.Task.WaitAsync(TimeSpan.FromMinutes(1), Cancel);

    public async Task<JsonElement> State()
    {
        var text = await Http.GetStringAsync(new Uri(await Url(), "state"), Cancel);
        return JsonDocument.Parse(text).RootElement;
    }

    /// <summary>Polls the state (every 100 ms, so the page counts as watched) until <paramref name="done"/> holds.</summary>
    public async Task<JsonElement> WaitFor(Func<JsonElement, bool> done, string what, TimeSpan? limit = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var s = await State();
            if (done(s)) return s;
            if (clock.Elapsed > (limit ?? TimeSpan.FromMinutes(3)))
                Assert.Fail($"no {what} within {clock.Elapsed}: last state {s}\nstderr:\n{Stderr}");
            await Task.Delay(100, Cancel);
        }
    }

    public async Task<(int Version, byte[] Png)> Image()
    {
        using var response = await Http.GetAsync(new Uri(await Url(), "image"), Cancel);
        response.EnsureSuccessStatusCode();
        return (int.Parse(response.Headers.GetValues("X-Image-Version").Single()), await response.Content.ReadAsByteArrayAsync(Cancel));
    }

    /// <summary>SIGINT, as Ctrl-C in a terminal sends it.</summary>
    public void Interrupt()
    {
        using var kill = System.Diagnostics.Process.Start("kill", ["-INT", Process.Id.ToString()]);
        kill.WaitForExit();
    }

    /// <summary>Waits for the exit (at most <paramref name="limit"/>) and returns the exit code.</summary>
    public async Task<int> Exit(TimeSpan limit)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        timeout.CancelAfter(limit);
        try
        {
            await Process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!Cancel.IsCancellationRequested)
        {
            Assert.Fail($"the process did not exit within {limit}:\n{Stderr}");
        }
        await stderrDone;
        return Process.ExitCode;
    }

    public void Dispose()
    {
        if (!Process.HasExited) Process.Kill();
        Process.Dispose();
        Http.Dispose();
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
