using IlgpuStyle.Cli.Commands;
using Xunit;

namespace IlgpuStyle.Tests.Cli;

/// <summary>
/// crowsonkb/style-transfer-pytorch's command lines, `ilgpu-style style_transfer …` (StyleTransferArguments): its
/// defaults and each option by the tokens they become, each refusal by its line, and one run whose output bytes are
/// those of the same run in IlgpuStyle's own options.
/// </summary>
public sealed class StyleTransferArgumentsTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDir dir = new();
    private static readonly System.CommandLine.Command Stylize = StylizeCommand.Create();

    public void Dispose() => dir.Dispose();

    private static StyleTransferArguments.Translation Translate(params string[] args) =>
        StyleTransferArguments.Translate(args, Stylize, () => "opencl:7", _ => (1600, 900));

    private static string Refused(params string[] args) =>
        Assert.Throws<UsageException>(() => Translate(args)).Message;

    /// <summary>Their defaults: Adam 0.02 averaged with 0.99, W2, 1000 then 500 iterations, √2 scales 128 → 512.</summary>
    [Fact]
    public void TheirDefaultsBecomeOurOptions()
    {
        var t = Translate("a.jpg", "b.jpg");
        Assert.Equal(
        [
            "--content", "a.jpg", "--style", "b.jpg", "--seed", "0", "--optimizer", "adam", "--style-loss", "meancov",
            "--size", "512", "--scales", "5", "--scales-per-octave", "2", "--iterations", "500",
            "--initial-iterations", "1000", "--learning-rate", "0.02", "--average-decay", "0.99", "--init", "content",
            "--pooling", "max",
        ], t.Args);
        Assert.Equal("read crowsonkb/style-transfer-pytorch's command line as: stylize " + string.Join(' ', t.Args), t.Note);
    }

    [Fact]
    public void TheirOptionsBecomeOursWithTheirMeaning()
    {
        var t = Translate("a.jpg", "b.jpg", "c.jpg", "-o", "o.png", "-sw", "3", "1", "--devices", "cuda:1", "-r", "5",
            "-ms", "64", "-s", "1024", "-i", "20", "-ii", "30", "-ss", "0.05", "-ad", "0.9", "--init", "style_mean",
            "--style-scale-fac", "0.5", "--style-size", "256", "--save-every", "10");
        Assert.Equal(
        [
            "--content", "a.jpg", "--style", "b.jpg", "c.jpg", "--output", "o.png", "--style-blend", "3", "1",
            "--device", "cuda:1", "--seed", "5", "--optimizer", "adam", "--style-loss", "meancov", "--size", "1024",
            "--scales", "9", "--scales-per-octave", "2", "--iterations", "20", "--initial-iterations", "30",
            "--save-every", "10", "--learning-rate", "0.05", "--average-decay", "0.9", "--init", "style-mean",
            "--style-scale", "0.5", "--style-size", "256", "--pooling", "max",
        ], t.Args);
        // The long spellings and --name=value read the same.
        var longForm = Translate("a.jpg", "b.jpg", "c.jpg", "--output=o.png", "--style-weights", "3", "1", "--devices=cuda:1",
            "--random-seed", "5", "--min-scale", "64", "--end-scale", "1024", "--iterations", "20", "--initial-iterations", "30",
            "--step-size", "0.05", "--avg-decay", "0.9", "--init", "style_mean", "--style-scale-fac", "0.5",
            "--style-size", "256", "--save-every", "10");
        Assert.Equal(t.Args, longForm.Args);
    }

    [Theory]
    [InlineData(128, 512, new[] { 128, 181, 256, 362, 512 })]
    [InlineData(64, 1024, new[] { 64, 91, 128, 181, 256, 362, 512, 724, 1024 })]
    [InlineData(100, 300, new[] { 106, 150, 212, 300 })]
    [InlineData(600, 512, new[] { 512 })]
    public void TheirScalesAreTheirs(int min, int end, int[] sizes)
    {
        var t = Translate("a.jpg", "b.jpg", "-ms", min.ToString(), "-s", end.ToString());
        int scales = int.Parse(t.Args[Array.IndexOf(t.Args, "--scales") + 1]);
        var run = new IlgpuStyle.Stylize.RunSettings { Size = end, Scales = scales, ScalesPerOctave = 2 };
        Assert.Equal(sizes, Enumerable.Range(1, scales).Select(run.LongSide));
    }

    [Fact]
    public void WeightsAreTakenRelativeToTheirDefaults()
    {
        var t = Translate("a.jpg", "b.jpg", "-cw", "0.03", "-tw", "1");
        Assert.Equal(["--content-weight", "50"], t.Args.SkipWhile(a => a != "--content-weight").Take(2));
        Assert.Equal(["--tv-weight", "0.5"], t.Args.SkipWhile(a => a != "--tv-weight").Take(2));
        Assert.Contains("--content-weight 0.03 is --content-weight 50: their default 0.015 is this tool's 25", t.Note);
        // With this tool's --style-loss gram given, its content weight is gram's default times theirs over 0.015.
        t = Translate("a.jpg", "b.jpg", "-cw", "0.03", "--style-loss", "gram");
        Assert.Equal(["--content-weight", "10"], t.Args.SkipWhile(a => a != "--content-weight").Take(2));
        Assert.DoesNotContain("meancov", t.Args);
        Assert.Equal(["--style-loss", "gram"], t.Args[^2..]);
    }

    [Fact]
    public void OurOwnOptionsPassThroughAfterTheirs()
    {
        var t = Translate("a.jpg", "--weights", "w.ilgw", "b.jpg", "--precision", "tf32", "-q", "--report", "r.jsonl", "--pooling", "average");
        Assert.Equal(["--content", "a.jpg", "--style", "b.jpg"], t.Args[..4]);
        Assert.Equal(["--weights", "w.ilgw", "--precision", "tf32", "--quiet", "--report", "r.jsonl"], t.Args[^7..]);
        Assert.Contains("--pooling", t.Args);
        Assert.Equal("avg", t.Args[Array.IndexOf(t.Args, "--pooling") + 1]);
        Assert.Contains("without their ×2", t.Note);
    }

    [Fact]
    public void LbfgsKeepsItsOwnStep()
    {
        var t = Translate("a.jpg", "b.jpg", "--optimizer", "lbfgs");
        Assert.DoesNotContain("--learning-rate", t.Args);
        Assert.DoesNotContain("--average-decay", t.Args);
        Assert.Equal("lbfgs", t.Args[Array.IndexOf(t.Args, "--optimizer") + 1]);
    }

    [Theory]
    [InlineData(new[] { "--devices", "cpu" }, "opencl:7")]
    [InlineData(new[] { "--devices", "cuda" }, "cuda")]
    [InlineData(new[] { "--devices", "opencl:0" }, "opencl:0")]
    public void DevicesNameOneDevice(string[] args, string device) =>
        Assert.Equal(device, Translate(["a.jpg", "b.jpg", .. args]).Args.SkipWhile(a => a != "--device").ElementAt(1));

    [Fact]
    public void AnEndScaleWithAPlusHasTheSquaresPixels()
    {
        // Their get_safe_scale: int(√(long / short) · N); the content here is 1600×900.
        var t = Translate("a.jpg", "b.jpg", "-s", "512+");
        Assert.Equal("682", t.Args[Array.IndexOf(t.Args, "--size") + 1]);
        Assert.Contains("--end-scale 512+ is --size 682 for the 1600×900 content", t.Note);
    }

    [Fact]
    public void TheWebPageIsThePreview()
    {
        var t = Translate("a.jpg", "b.jpg", "--web", "--port", "9000", "--browser");
        Assert.Equal(["--preview-port", "9000"], t.Args.SkipWhile(a => a != "--preview-port").Take(2));
        Assert.Contains("no browser is started; open http://127.0.0.1:9000/", t.Note);
        Assert.Equal("8080", Translate("a.jpg", "b.jpg", "--web").Args.SkipWhile(a => a != "--preview-port").ElementAt(1));
    }

    [Theory]
    [InlineData("style_transfer needs the content image and at least one style image", new[] { "a.jpg" })]
    [InlineData("--style-weights has 1 weights for 2 style images.", new[] { "a.jpg", "b.jpg", "c.jpg", "-sw", "1" })]
    [InlineData("--devices cuda:0 cuda:1: this tool runs on one device", new[] { "a.jpg", "b.jpg", "--devices", "cuda:0", "cuda:1" })]
    [InlineData("--devices mps: this tool runs on", new[] { "a.jpg", "b.jpg", "--devices", "mps" })]
    [InlineData("--pooling l2 is not supported", new[] { "a.jpg", "b.jpg", "--pooling", "l2" })]
    [InlineData("--init 'noise' is not content, gray, uniform or style_mean.", new[] { "a.jpg", "b.jpg", "--init", "noise" })]
    [InlineData("--proof p: this tool writes no proof sheets", new[] { "a.jpg", "b.jpg", "--proof", "p" })]
    [InlineData("--host 0.0.0.0: the live preview listens on 127.0.0.1 only", new[] { "a.jpg", "b.jpg", "--web", "--host", "0.0.0.0" })]
    [InlineData("--size: in style_transfer's command line that is --end-scale (crowsonkb's)", new[] { "a.jpg", "b.jpg", "--size", "64" })]
    [InlineData("--seed: in style_transfer's command line that is --random-seed", new[] { "a.jpg", "b.jpg", "--seed", "3" })]
    [InlineData("--content: in style_transfer's command line that is the first image", new[] { "b.jpg", "-c", "a.jpg" })]
    [InlineData("--bogus is neither crowsonkb/style-transfer-pytorch's option nor this tool's", new[] { "a.jpg", "b.jpg", "--bogus" })]
    [InlineData("--random-seed is given twice.", new[] { "a.jpg", "b.jpg", "-r", "1", "--random-seed", "2" })]
    [InlineData("--content-weight 'x' is not a number.", new[] { "a.jpg", "b.jpg", "-cw", "x" })]
    [InlineData("--end-scale 8 is too small", new[] { "a.jpg", "b.jpg", "-s", "8" })]
    [InlineData("-s needs a value", new[] { "a.jpg", "b.jpg", "-s" })]
    public void WhatCannotBeMetIsOneLine(string message, string[] args) =>
        Assert.StartsWith(message, Refused(args));

    [Fact]
    public void HelpListsTheirOptions()
    {
        var (code, output, _) = CliRunner.Run("style_transfer", "--help");
        Assert.Equal(0, code);
        Assert.Contains("usage: ilgpu-style style_transfer CONTENT STYLE", output);
        foreach (var option in new[] { "--end-scale", "--min-scale", "--initial-iterations", "--step-size", "--avg-decay", "--style-weights", "--devices" })
            Assert.Contains(option, output);
        (code, _, var err) = CliRunner.Run("style_transfer", "a.jpg");
        Assert.Equal(2, code);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void TheirOptionsTypedIntoStylizeSayWhereTheyAreRead()
    {
        var (code, _, err) = CliRunner.Run("stylize", "a.jpg", "b.jpg", "--end-scale", "64");
        Assert.Equal(2, code);
        Assert.Equal("error: --end-scale is crowsonkb/style-transfer-pytorch's option: `ilgpu-style style_transfer CONTENT STYLE --end-scale …` reads its command line (stylize's options: `ilgpu-style stylize --help`).", err.Trim());
        (code, _, err) = CliRunner.Run("stylize", "a.jpg", "b.jpg", "-cw", "0.1");
        Assert.Equal(2, code);
        Assert.StartsWith("error: -cw is crowsonkb/style-transfer-pytorch's option", err);
        Assert.Single(err.Trim().Split('\n'));
        (code, _, err) = CliRunner.Run("stylize", "a.jpg", "b.jpg", "--bogus");
        Assert.Equal(2, code);
        Assert.DoesNotContain("crowsonkb", err);
    }

    /// <summary>
    /// A style_transfer command line makes the bytes the same run makes in this tool's options (same seed and device),
    /// and says how it was read; on Devices.QuickestForOptionTests, the network to relu2_1.
    /// </summary>
    [Fact]
    public void TheirCommandLineMakesTheSamePictureAsOurs()
    {
        var images = SharedData.RequireOrSkip("images");
        string content = Path.Combine(images, "tubingen.jpg"), style = Path.Combine(images, "golden_gate.jpg");
        string theirs = dir.File("theirs.png"), ours = dir.File("ours.png");
        string[] common = ["--weights", RealWeights.Path, "--content-layers", "relu2_1", "--style-layers", "relu1_1,relu2_1"];

        var (code, _, err) = CliRunner.Run(["style_transfer", content, style, .. common, "--devices", Devices.QuickestForOptionTests,
            "-s", "45", "-ms", "32", "-i", "2", "-ii", "3", "-r", "7", "--init", "gray", "-tw", "4", "-o", theirs]);
        log.WriteLine(err);
        Assert.Equal(0, code);
        Assert.Contains("note: read crowsonkb/style-transfer-pytorch's command line as: stylize --content", err);
        Assert.Contains("scale 1/2: 32×24", err);   // 45 / √2 = 31.8 → 32: their √2 steps
        Assert.Contains("scale 2/2: 45×34", err);

        (code, _, err) = CliRunner.Run(["stylize", .. common, "--device", Devices.QuickestForOptionTests, "--content", content,
            "--style", style, "--size", "45", "--scales", "2", "--scales-per-octave", "2", "--iterations", "2",
            "--initial-iterations", "3", "--seed", "7", "--init", "gray", "--tv-weight", "2", "--optimizer", "adam",
            "--learning-rate", "0.02", "--average-decay", "0.99", "--style-loss", "meancov", "--quiet", "--output", ours]);
        Assert.Equal(0, code);
        Assert.DoesNotContain("note:", err);
        Assert.Equal(File.ReadAllBytes(ours), File.ReadAllBytes(theirs));

        // Another --init gives another picture: the option reached the run.
        (code, _, _) = CliRunner.Run(["style_transfer", content, style, .. common, "--devices", Devices.QuickestForOptionTests,
            "-s", "45", "-ms", "32", "-i", "2", "-ii", "3", "-r", "7", "--init", "uniform", "-tw", "4", "-q", "-o", theirs]);
        Assert.Equal(0, code);
        Assert.NotEqual(File.ReadAllBytes(ours), File.ReadAllBytes(theirs));
    }
}
