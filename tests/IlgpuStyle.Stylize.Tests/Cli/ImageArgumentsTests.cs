using IlgpuStyle.Cli.Commands;
using Xunit;

namespace IlgpuStyle.Tests.Cli;

/// <summary>
/// `stylize photo.jpg painting.jpg -o out.png` (crowsonkb/style-transfer-pytorch's form): images as arguments, the
/// content first, beside or instead of --content and --style (StylizeCommand.Images).
/// </summary>
public sealed class ImageArgumentsTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-image-arguments-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData(null, null, "c.jpg s.jpg", "c.jpg", "s.jpg")]
    [InlineData(null, null, "c.jpg s.jpg t.jpg", "c.jpg", "s.jpg t.jpg")]
    [InlineData("c.jpg", null, "s.jpg t.jpg", "c.jpg", "s.jpg t.jpg")]
    [InlineData(null, "s.jpg", "c.jpg", "c.jpg", "s.jpg")]
    [InlineData(null, "s.jpg", "c.jpg t.jpg", "c.jpg", "s.jpg t.jpg")]
    [InlineData("c.jpg", "s.jpg", "", "c.jpg", "s.jpg")]
    public void TheFirstArgumentIsTheContentUnlessGivenAndTheOthersAreStyles(string? content, string? style, string images, string expectedContent, string expectedStyles)
    {
        var (c, s) = StylizeCommand.Images(content, style?.Split(' '), images.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(expectedContent, c);
        Assert.Equal(expectedStyles.Split(' '), s);
    }

    [Theory]
    [InlineData(null, null, "", "no content image")]
    [InlineData(null, null, "c.jpg", "no style image")]
    [InlineData("c.jpg", null, "", "no style image")]
    [InlineData(null, "s.jpg", "", "no content image")]
    public void AMissingImageIsOneLine(string? content, string? style, string images, string message)
    {
        Assert.StartsWith(message, Assert.Throws<UsageException>(() =>
            StylizeCommand.Images(content, style?.Split(' '), images.Split(' ', StringSplitOptions.RemoveEmptyEntries))).Message);
        var (code, _, err) = CliRunner.Run(["stylize", .. content is null ? [] : new[] { "--content", content },
            .. style is null ? [] : new[] { "--style", style }, .. images.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--size", "32"]);
        Assert.Equal(2, code);
        Assert.StartsWith($"error: {message}", err.Trim());
    }

    /// <summary>Images as arguments make the bytes --content and --style make (on Devices.QuickestForOptionTests, the network to relu2_1).</summary>
    [Fact]
    public void ImagesAsArgumentsMakeTheSamePictureAsOptions()
    {
        var images = SharedData.RequireOrSkip("images");
        string content = Path.Combine(images, "tubingen.jpg"), style = Path.Combine(images, "the_scream.jpg");
        string a = Path.Combine(dir, "a.png"), b = Path.Combine(dir, "b.png");
        string[] common = ["--weights", RealWeights.Path, "--device", Devices.QuickestForOptionTests, "--scales", "1", "--size", "32", "--iterations", "2",
            "--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1", "--quiet"];
        var (code, _, err) = CliRunner.Run(["stylize", content, style, .. common, "-o", a]);
        log.WriteLine(err);
        Assert.Equal(0, code);
        (code, _, err) = CliRunner.Run(["stylize", .. common, "--content", content, "--style", style, "-o", b]);
        Assert.Equal(0, code);
        Assert.Equal(File.ReadAllBytes(b), File.ReadAllBytes(a));
        // The order matters: the first argument is the content.
        (code, _, _) = CliRunner.Run(["stylize", style, content, .. common, "-o", b]);
        Assert.Equal(0, code);
        Assert.NotEqual(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }
}
