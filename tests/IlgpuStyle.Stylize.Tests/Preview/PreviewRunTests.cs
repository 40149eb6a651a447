using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Preview;

/// <summary>
/// `stylize --preview` on a real run (a child process, cpu device, tiny weights): the state follows the iterations,
/// the image changes while it runs, and the page gets the end — finished, or cancelled by Ctrl-C — with the image that
/// was written; the process then exits promptly.
/// </summary>
public sealed class PreviewRunTests(ITestOutputHelper log)
{
    [Fact]
    public async Task TheImageChangesWhileItRunsAndCtrlCEndsItCancelled()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "SIGINT is a POSIX signal");
        using var run = new PreviewProcess(iterations: 100000);
        Assert.Equal("127.0.0.1", (await run.Url()).Host);
        var s1 = await run.WaitFor(s => s.GetProperty("iteration").GetInt32() >= 2 && s.GetProperty("image").GetInt32() > 0, "image");
        var (v1, png1) = await run.Image();
        var s2 = await run.WaitFor(s => s.GetProperty("image").GetInt32() > v1 + 1, "newer image");
        var (v2, png2) = await run.Image();
        log.WriteLine($"iteration {s1.GetProperty("iteration")} image v{v1}, then iteration {s2.GetProperty("iteration")} image v{v2}");
        Assert.True(v2 > v1);
        Assert.NotEqual(png1, png2);
        var image1 = ImageLoader.Decode(png1, "first");
        var image2 = ImageLoader.Decode(png2, "second");
        Assert.NotEqual(image1.Data, image2.Data);
        Assert.Equal("running", s2.GetProperty("status").GetString());
        Assert.True(s2.GetProperty("count").GetInt32() >= 3, $"{s2}");   // a loss for every iteration so far
        Assert.All(s2.GetProperty("losses").EnumerateArray(), l => Assert.True(l.GetProperty("total").GetSingle() > 0));

        run.Interrupt();
        var end = await run.WaitFor(s => s.GetProperty("status").GetString() != "running", "end", TimeSpan.FromMinutes(1));
        Assert.Equal("cancelled", end.GetProperty("status").GetString());
        var (vFinal, final) = await run.Image();
        Assert.Equal(end.GetProperty("image").GetInt32(), vFinal);
        Assert.Equal(await File.ReadAllBytesAsync(run.Output, TestContext.Current.CancellationToken), final);   // what was written
        Assert.Equal(130, await run.Exit(TimeSpan.FromSeconds(10)));
        log.WriteLine(run.Stderr);
    }

    [Fact]
    public async Task AFinishedRunShowsTheWrittenImageThenExits()
    {
        const int iterations = 3;
        using var run = new PreviewProcess(iterations, scales: 2, "--save-every", "2");
        var end = await run.WaitFor(s => s.GetProperty("status").GetString() is not ("starting" or "running"), "end");
        Assert.Equal("finished", end.GetProperty("status").GetString());
        // Both scales (16 and 32 px), iteration 0 (the initial image) to the last.
        var losses = end.GetProperty("losses").EnumerateArray().ToList();
        Assert.Equal(2 * (iterations + 1), losses.Count);
        Assert.Equal((2, iterations), (losses[^1].GetProperty("scale").GetInt32(), losses[^1].GetProperty("iteration").GetInt32()));
        var (_, final) = await run.Image();
        Assert.Equal(await File.ReadAllBytesAsync(run.Output, TestContext.Current.CancellationToken), final);
        Assert.Equal(0, await run.Exit(TimeSpan.FromSeconds(10)));
        log.WriteLine(run.Stderr);
        // The preview takes every iteration's image; --save-every still writes only every 2nd (before the last).
        Assert.Equal(["out.png", "out_s1_0002.png", "out_s2_0002.png"],
            Directory.GetFiles(Path.GetDirectoryName(run.Output)!, "out*.png").Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }
}
