using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Library;

/// <summary>README's library example is this project's <c>Library/ReadmeLibraryExample.cs</c>, compiled with the tests and run here.</summary>
public sealed class LibraryExampleTests(ITestOutputHelper log)
{
    private const string Begin = "// README: begin";
    private const string End = "// README: end";

    [Fact]
    public void ReadmeShowsTheExampleVerbatim()
    {
        string Between(string text)
        {
            int b = text.IndexOf(Begin, StringComparison.Ordinal), e = text.IndexOf(End, StringComparison.Ordinal);
            Assert.True(b >= 0 && e > b, $"markers '{Begin}' … '{End}' not found");
            return text[(b + Begin.Length)..e].ReplaceLineEndings("\n").Trim();
        }
        var source = Between(File.ReadAllText(Repo.File("tests", "IlgpuStyle.Stylize.Tests", "Library", "ReadmeLibraryExample.cs")));
        var readme = Between(File.ReadAllText(Repo.File("README.md")));
        Assert.Equal(source, readme);
    }

    [Fact]
    public void TheExampleStylizesInMemory()
    {
        Devices.Get("opencl"); // the whole VGG19 to relu5_1: too slow on the CPU simulator
        var images = SharedData.RequireOrSkip("images");
        var photo = ImageLoader.Load(Path.Combine(images, "tubingen.jpg"));
        var painting = ImageLoader.Load(Path.Combine(images, "starry_night.jpg"));
        var image = MyStyleTransfer.Paint(photo, painting, RealWeights.Path, size: 64, iterations: 5, device: "opencl",
            cancel: TestContext.Current.CancellationToken);
        log.WriteLine($"{image.Width}×{image.Height}");
        Assert.Equal(ImageResizer.FitLongSideSize(photo.Width, photo.Height, 64), (image.Width, image.Height));
        Assert.All(image.Data, v => Assert.True(float.IsFinite(v)));
        var start = ImageResizer.Resize(photo, image.Width, image.Height);
        Assert.NotEqual(start.Data, image.Data); // the optimizer moved the pixels
    }
}
