using System.Diagnostics;
using Xunit;

namespace IlgpuStyle.Tests.Preview;

/// <summary>
/// Headless Chromium for the preview page test: `chromium` (Debian's package; .ci/install-chromium.sh), or
/// $ILGPU_STYLE_CHROMIUM. Absent, the test is skipped with a loud reason — except under CI=true, where it fails.
/// </summary>
public sealed class Chromium : IDisposable
{
    private readonly string binary;
    private readonly string profile = Directory.CreateTempSubdirectory("ilgpu-style-chromium-").FullName;

    private Chromium(string binary) => this.binary = binary;

    public static Chromium RequireOrSkip()
    {
        var found = Find();
        if (found is not null) return new Chromium(found);
        var env = Environment.GetEnvironmentVariable("ILGPU_STYLE_CHROMIUM");
        var why = string.IsNullOrEmpty(env)
            ? "*** BROWSER TEST NOT RUN: no chromium on PATH (apt-get install chromium, or run .ci/install-chromium.sh; or set ILGPU_STYLE_CHROMIUM) ***"
            : $"*** BROWSER TEST NOT RUN: ILGPU_STYLE_CHROMIUM={env} does not exist ***";
        if (Environment.GetEnvironmentVariable("CI") == "true")
            throw new InvalidOperationException("CI=true but " + why);
        Assert.Skip(why);
        return null!;
    }

    private static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("ILGPU_STYLE_CHROMIUM");
        if (!string.IsNullOrEmpty(env)) return File.Exists(env) ? env : null;
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return new[] { "chromium", "chromium-browser", "google-chrome" }
            .SelectMany(name => path.Select(dir => Path.Combine(dir, name))).FirstOrDefault(File.Exists);
    }

    /// <summary>The DOM after the page's scripts ran for <paramref name="virtualMs"/> ms of virtual time (its polls included).</summary>
    public Task<string> DumpDom(Uri url, int virtualMs = 2500) => Run(["--dump-dom", $"--virtual-time-budget={virtualMs}", url.ToString()]);

    /// <summary>A PNG screenshot of the page, <paramref name="width"/>×<paramref name="height"/>, into <paramref name="file"/>.</summary>
    public Task Screenshot(Uri url, string file, int width, int height, int virtualMs = 2500) =>
        Run([$"--screenshot={file}", $"--window-size={width},{height}", $"--virtual-time-budget={virtualMs}", url.ToString()]);

    private async Task<string> Run(string[] args)
    {
        // --no-sandbox: the sandbox needs user namespaces, which containers and root often lack; our own page only.
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", $"--user-data-dir={profile}", .. args])
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var cancel = TestContext.Current.CancellationToken;
        var stdout = process.StandardOutput.ReadToEndAsync(cancel);
        var stderr = process.StandardError.ReadToEndAsync(cancel);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"chromium {string.Join(' ', args)} did not finish within 2 minutes");
        }
        if (process.ExitCode != 0)
            Assert.Fail($"chromium {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }

    public void Dispose()
    {
        try { Directory.Delete(profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
