using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// `stylize --average-decay D`: a value outside [0, 1), or any D > 0 with L-BFGS, is one error line, exit 2, nothing
/// written; with Adam the option reaches the run (the output differs from the same run without it). The averaging
/// itself is checked against the reference in <see cref="AverageDecayTests"/>.
/// </summary>
public sealed class AverageDecayCliTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-average-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData("1", "adam", "--average-decay 1 must be a number in [0, 1)")]
    [InlineData("-0.1", "adam", "must be a number in [0, 1)")]
    [InlineData("nan", "adam", "must be a number in [0, 1)")]
    [InlineData("abc", "adam", "Cannot parse argument 'abc' for option '--average-decay'")]
    [InlineData("0.9", "lbfgs", "--average-decay applies to --optimizer adam only")]
    public void ABadDecayIsOneErrorLine(string value, string optimizer, string message)
    {
        // Synthetic images and no weights: the option is refused before any file or device is touched.
        var content = Path.Combine(dir, "content.png");
        ImageWriter.Save(Imaging.TestImages.Smooth(40, 24), content);
        var output = Path.Combine(dir, "out", "o.png");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var (code, _, err) = CliRunner.Run(["stylize", "--quiet", "--content", content, "--style", content, "--output", output,
            "--size", "16", "--iterations", "1", "--device", "cpu", "--weights", Path.Combine(dir, "none.ilgw"),
            "--optimizer", optimizer, "--average-decay", value]);
        log.WriteLine($"exit {code}: {err.Trim()}");
        Assert.Equal(2, code);
        Assert.Matches(@"^error: [^\n]*\n?$", err);
        Assert.Contains(message, err);
        Assert.Empty(Directory.GetFileSystemEntries(Path.GetDirectoryName(output)!));
    }

    [Fact]
    public void WithAdamTheAverageIsWhatIsWritten()
    {
        var device = Devices.FastestForRuns; // a whole run on the CPU simulator cost 25 s of CI's budget
        Devices.Get(device);
        var images = SharedData.RequireOrSkip("images");
        byte[] Run(string name, params string[] extra)
        {
            var output = Path.Combine(dir, name);
            string[] args = [
                "stylize", "--quiet",
                "--content", Path.Combine(images, "tubingen.jpg"), "--style", Path.Combine(images, "starry_night.jpg"),
                "--output", output, "--weights", RealWeights.Path, "--device", device,
                "--size", "32", "--scales", "1", "--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1",
                "--optimizer", "adam", "--iterations", "3", "--save-every", "2", .. extra,
            ];
            var (code, _, err) = CliRunner.Run(args);
            log.WriteLine($"$ ilgpu-style {string.Join(' ', args[1..])} → exit {code}");
            Assert.True(code == 0, err);
            Assert.True(File.Exists(Path.Combine(dir, Path.GetFileNameWithoutExtension(name) + "_0002.png")), "no --save-every snapshot");
            return File.ReadAllBytes(output);
        }
        var averaged = Run("averaged.png", "--average-decay", "0.9");
        var plain = Run("plain.png");
        Assert.NotEqual(plain, averaged);
    }
}
