using System.Text.RegularExpressions;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Preview;

/// <summary>
/// The --preview page in a real browser (headless Chromium) during a real run (cpu device, tiny weights): its own
/// JavaScript fills in the status and iteration, loads the image, and draws the loss curve; loaded again later, it
/// shows a later iteration and a newer image.
/// </summary>
public sealed partial class PreviewBrowserTests(ITestOutputHelper log)
{
    [Fact]
    public async Task ThePageShowsTheRunAsItGoes()
    {
        using var chromium = Chromium.RequireOrSkip();
        using var run = new PreviewProcess(iterations: 100000);
        var url = await run.Url();
        await run.WaitFor(s => s.GetProperty("iteration").GetInt32() >= 2 && s.GetProperty("image").GetInt32() > 0, "image");

        var first = Page.Of(await chromium.DumpDom(url));
        log.WriteLine($"first:  {first}");
        await run.WaitFor(s => s.GetProperty("image").GetInt32() > first.ImageVersion + 1, "newer image");
        var second = Page.Of(await chromium.DumpDom(url));
        log.WriteLine($"second: {second}");

        Assert.Equal("running", first.Status);
        Assert.Equal("running", second.Status);
        Assert.True(first.ImageVersion > 0, "the page set no image");
        Assert.True(second.ImageVersion > first.ImageVersion, "the image did not change between the two loads");
        Assert.True(second.Iteration > first.Iteration, "the iteration did not advance between the two loads");
        Assert.True(first.TotalPoints >= 2, $"the loss curve has {first.TotalPoints} points");
        Assert.True(second.TotalPoints > first.TotalPoints, "the loss curve did not grow");

        // Rendered: the screenshot holds the page (not one flat colour) with the image drawn in it.
        var shot = Path.Combine(Path.GetTempPath(), $"ilgpu-style-preview-{Environment.ProcessId}.png");
        try
        {
            await chromium.Screenshot(url, shot, 900, 500);
            var image = ImageLoader.Load(shot);
            Assert.Equal((900, 500), (image.Width, image.Height));
            Assert.True(image.Data.Distinct().Count() > 50, "the screenshot is nearly uniform");
        }
        finally
        {
            File.Delete(shot);
        }

        run.Interrupt();
        Assert.Equal(130, await run.Exit(TimeSpan.FromMinutes(1)));
    }

    /// <summary>What the test reads from the DOM Chromium dumped.</summary>
    private sealed record Page(string Status, int Iteration, int ImageVersion, int TotalPoints)
    {
        public static Page Of(string dom)
        {
            string status = StatusRx().Match(dom) is { Success: true } s ? s.Groups[1].Value : "(no status)";
            int iteration = IterationRx().Match(dom) is { Success: true } i && int.TryParse(i.Groups[1].Value, out var it) ? it : -1;
            int version = ImageRx().Match(dom) is { Success: true } v ? int.Parse(v.Groups[1].Value) : 0;
            var points = TotalRx().Match(dom);
            int count = points.Success ? points.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length : 0;
            return new Page(status, iteration, version, count);
        }
    }

    [GeneratedRegex("""id="status"[^>]*>([^<]*)<""")]
    private static partial Regex StatusRx();

    [GeneratedRegex("""id="iteration"[^>]*>([^<]*)<""")]
    private static partial Regex IterationRx();

    [GeneratedRegex("id=\"image\"[^>]*\\bsrc=\"image\\?v=(\\d+)\"")]
    private static partial Regex ImageRx();

    [GeneratedRegex("id=\"curve-total\"[^>]*\\bpoints=\"([^\"]*)\"")]
    private static partial Regex TotalRx();
}
