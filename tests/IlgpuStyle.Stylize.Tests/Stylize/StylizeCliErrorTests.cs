using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>Each bad input gives one `error: …` line, its exit code, and no output file.</summary>
public sealed class StylizeCliErrorTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ilgpu-style-errors-").FullName;
    private string Output => Path.Combine(dir, "out.png");

    private string[] Args(params string[] overrides)
    {
        var images = SharedData.RequireOrSkip("images");
        var args = new Dictionary<string, string>
        {
            ["--content"] = Path.Combine(images, "tubingen.jpg"),
            ["--style"] = Path.Combine(images, "starry_night.jpg"),
            ["--output"] = Output,
            ["--size"] = "32",
            ["--scales"] = "1",
            ["--iterations"] = "1",
            ["--device"] = "cpu",
        };
        for (int i = 0; i < overrides.Length; i += 2) args[overrides[i]] = overrides[i + 1];
        if (!args.ContainsKey("--weights")) args["--weights"] = RealWeights.Path;
        return ["stylize", "--quiet", .. args.SelectMany(kv => new[] { kv.Key, kv.Value })];
    }

    private void AssertFails(int exitCode, string message, string[] args, IReadOnlyDictionary<string, string?>? env = null)
    {
        var (code, stdout, stderr) = CliRunner.Run(env, args);
        log.WriteLine($"exit {code}: {stderr.Trim()}");
        Assert.Equal(exitCode, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith("error: ")).ToList();
        Assert.Single(lines);
        Assert.Contains(message, lines[0]);
        Assert.False(File.Exists(Output), "an output file was written");
        Assert.Empty(Directory.GetFiles(dir));
    }

    [Fact]
    public void MissingContentImage() =>
        AssertFails(2, "file not found", Args("--content", Path.Combine(dir, "nope.jpg")));

    [Fact]
    public void CorruptStyleImage()
    {
        var bad = Path.Combine(Path.GetTempPath(), $"ilgpu-style-corrupt-{Environment.ProcessId}.jpg");
        File.WriteAllBytes(bad, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5]);
        try { AssertFails(2, "not a readable image", Args("--style", bad)); }
        finally { File.Delete(bad); }
    }

    [Fact]
    public void AFailedRunLeavesNoReportFile() =>
        AssertFails(2, "unknown layer", [.. Args("--style-layers", "relu9_1"), "--report", Path.Combine(dir, "report.jsonl")]);

    [Fact]
    public void UnknownLayerName() =>
        AssertFails(2, "unknown layer 'relu9_1'", Args("--style-layers", "relu1_1,relu9_1"));

    [Fact]
    public void WeightsNotFoundSaysHowToMakeThem() =>
        AssertFails(2, "weights convert", Args("--weights", Path.Combine(dir, "missing.ilgw")));

    [Fact]
    public void CorruptWeightsFile()
    {
        var bad = Path.Combine(Path.GetTempPath(), $"ilgpu-style-bad-{Environment.ProcessId}.ilgw");
        File.WriteAllBytes(bad, "NOT A WEIGHTS FILE AT ALL"u8.ToArray());
        try { AssertFails(2, "not an .ilgw weights file", Args("--weights", bad)); }
        finally { File.Delete(bad); }
    }

    [Fact]
    public void UnknownDevice() =>
        AssertFails(3, "unknown device 'tpu'", Args("--device", "tpu"));

    [Fact]
    public void DeviceIndexOutOfRange() =>
        AssertFails(3, "does not exist", Args("--device", "cpu:3"));

    [Fact]
    public void OutOfDeviceMemorySuggestsASmallerSize() =>
        AssertFails(3, "smaller --size", Args(), new Dictionary<string, string?> { ["ILGPU_STYLE_MAX_MEMORY"] = "8M" });

    [Fact]
    public void UnsupportedOutputFormat() =>
        AssertFails(2, ".png, .jpg or .jpeg", Args("--output", Path.Combine(dir, "out.bmp")));

    [Fact]
    public void MismatchedStyleBlend() =>
        AssertFails(2, "--style-blend has 2 values for 1 style images", [.. Args(), "--style-blend", "0.5", "0.5"]);

    [Fact]
    public void MismatchedStyleBlendCommaSeparated() =>
        AssertFails(2, "--style-blend has 2 values for 1 style images", [.. Args(), "--style-blend", "0.5,0.5"]);

    [Fact]
    public void StyleBlendThatIsNotANumber() =>
        AssertFails(2, "--style-blend '' is not a number", [.. Args(), "--style-blend", "1,"]);

    /// <summary>--style-blend as separate arguments, comma-separated (jcjohnson's -style_blend_weights 3,7) or both.</summary>
    [Theory]
    [InlineData(new[] { "0.7", "0.3" }, new[] { 0.7f, 0.3f })]
    [InlineData(new[] { "0.7,0.3" }, new[] { 0.7f, 0.3f })]
    [InlineData(new[] { "3, 7", "1e-1" }, new[] { 3f, 7f, 0.1f })]
    [InlineData(new[] { "1" }, new[] { 1f })]
    public void StyleBlendWeightsAreSeparateOrCommaSeparated(string[] tokens, float[] weights) =>
        Assert.Equal(weights, IlgpuStyle.Cli.Commands.StylizeCommand.BlendWeights(tokens));

    /// <summary>
    /// --style as separate arguments or comma-separated (jcjohnson's -style_image a.jpg,b.jpg); a name with a comma that is
    /// a file stays whole, and so does a list with a missing piece (the run then reports the name as given).
    /// </summary>
    [Fact]
    public void StyleImagesAreSeparateOrCommaSeparated()
    {
        string a = Path.Combine(dir, "a.png"), b = Path.Combine(dir, "b.png"), comma = Path.Combine(dir, "c,d.png");
        foreach (var f in new[] { a, b, comma }) File.WriteAllBytes(f, [1]);
        try
        {
            Assert.Equal([a, b], IlgpuStyle.Cli.Commands.StylizeCommand.StylePaths([$"{a},{b}"]));
            Assert.Equal([a, b, a], IlgpuStyle.Cli.Commands.StylizeCommand.StylePaths([$"{a},{b}", a]));
            Assert.Equal([comma], IlgpuStyle.Cli.Commands.StylizeCommand.StylePaths([comma]));
            string missing = $"{a},{Path.Combine(dir, "nope.png")}";
            Assert.Equal([missing], IlgpuStyle.Cli.Commands.StylizeCommand.StylePaths([missing]));
        }
        finally
        {
            foreach (var f in new[] { a, b, comma }) File.Delete(f);
        }
    }

    /// <summary>jcjohnson/neural-style's -init random and -init image are --init noise and --init content.</summary>
    [Theory]
    [InlineData("content", IlgpuStyle.Stylize.InitKind.Content)]
    [InlineData("image", IlgpuStyle.Stylize.InitKind.Content)]
    [InlineData("noise", IlgpuStyle.Stylize.InitKind.Noise)]
    [InlineData("random", IlgpuStyle.Stylize.InitKind.Noise)]
    [InlineData("style", IlgpuStyle.Stylize.InitKind.Style)]
    public void InitNamesIncludeJcjohnsons(string init, IlgpuStyle.Stylize.InitKind kind) =>
        Assert.Equal(kind, IlgpuStyle.Cli.Commands.StylizeJob.WithInit(new IlgpuStyle.Stylize.RunSettings(), init).Init);

    [Theory]
    [InlineData("abc")]
    [InlineData("0.5;0.5")]
    [InlineData(",")]
    [InlineData("1,,2")]
    public void StyleBlendPiecesThatAreNotNumbersAreBadInput(string token) =>
        Assert.Throws<IlgpuStyle.Cli.Commands.UsageException>(() => IlgpuStyle.Cli.Commands.StylizeCommand.BlendWeights([token]));

    // Regressions of issue #15 (each was a stack trace with exit 1).

    [Fact]
    public void ASizeBeyondIndexableBuffersIsRefusedWithTheSizeThatFits() =>
        AssertFails(2, "use --size", Args("--size", "100000"));

    [Theory]
    [InlineData("--content-weight", "nan")]
    [InlineData("--style-weight", "-1")]
    [InlineData("--tv-weight", "infinity")]
    [InlineData("--learning-rate", "0")]
    [InlineData("--style-scale", "nan")]
    public void NonFiniteOrNegativeNumbersAreRefusedBeforeTheRun(string option, string value) =>
        AssertFails(2, option, Args(option, value));

    [Fact]
    public void AWholeImageLargerThanTheDeviceIsRefusedUpFront()
    {
        // Issue #15's `--size 5000` crash (a CLException): the memory planner now runs that size in tiles within the
        // device's memory; forced untiled (tiles as large as the image) it is refused before any device work, naming
        // the memory it would need. (Allocation failures the device itself reports map to the same exit code:
        // DeviceOutOfMemoryException.IsOutOfMemory, Kernels tests.)
        Devices.Get("opencl");
        AssertFails(3, "needs at least", Args("--device", "opencl", "--size", "5000", "--tile-size", "5000"));
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);
}
