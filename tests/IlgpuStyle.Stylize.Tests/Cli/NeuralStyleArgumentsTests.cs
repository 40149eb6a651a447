using IlgpuStyle.Cli.Commands;
using Xunit;

namespace IlgpuStyle.Tests.Cli;

/// <summary>
/// jcjohnson/neural-style's command lines read by `stylize` (NeuralStyleArguments) and long options typed with one
/// dash (LongOptionDashes): each translation by its tokens, each refusal by its line, and one run whose output bytes
/// are those of the same run in IlgpuStyle's own options.
/// </summary>
public sealed class NeuralStyleArgumentsTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDir dir = new();
    private static readonly System.CommandLine.Command Stylize = StylizeCommand.Create();

    public void Dispose() => dir.Dispose();

    private static NeuralStyleArguments.Translation Translate(params string[] args) =>
        NeuralStyleArguments.Translate(args, Stylize, () => "opencl:7", new Random(42));

    private static string Refused(params string[] args) =>
        Assert.Throws<UsageException>(() => Translate(args)).Message;

    [Fact]
    public void TheirOptionsBecomeOursWithTheSameValues()
    {
        var t = Translate("-content_image", "a.jpg", "-style_image", "b.jpg,c.jpg", "-style_blend_weights", "3,7",
            "-image_size", "256", "-num_iterations", "500", "-content_weight", "10", "-style_weight", "1e3",
            "-style_scale", "0.5", "-pooling", "avg", "-optimizer", "lbfgs", "-content_layers", "relu4_2",
            "-style_layers", "relu1_1,relu2_1", "-save_iter", "25", "-print_iter", "10", "-output_image", "o.png",
            "-lbfgs_num_correction", "20", "-seed", "123", "-init", "image", "-original_colors", "1");
        Assert.Equal(
        [
            "--content", "a.jpg", "--style", "b.jpg,c.jpg", "--style-blend", "3,7", "--size", "256", "--iterations", "500",
            "--content-weight", "10", "--style-weight", "1e3", "--style-scale", "0.5", "--pooling", "avg",
            "--optimizer", "lbfgs", "--content-layers", "relu4_2", "--style-layers", "relu1_1,relu2_1",
            "--save-every", "25", "--print-every", "10", "--output", "o.png", "--lbfgs-history", "20", "--seed", "123",
            "--init", "image", "--original-colors",
        ], t.Args);
        Assert.StartsWith("read jcjohnson/neural-style's options as: --content a.jpg --style b.jpg,c.jpg", t.Note);
    }

    [Fact]
    public void OurOwnOptionsPassUntouchedAndBesideTheirs()
    {
        string[] ours = ["--content", "a.jpg", "-s", "b.jpg", "--size", "64", "-q", "--seed", "-1"];
        var t = Translate(ours);
        Assert.Equal(ours, t.Args);
        Assert.Null(t.Note);
        Assert.Equal(["-c", "a.jpg", "--device", "cpu", "--output", "o.png"], Translate("-c", "a.jpg", "--device", "cpu", "-output_image", "o.png").Args);
    }

    [Fact]
    public void OurOriginalColorsFlagTakesTheirValue()
    {
        Assert.Equal(["-c", "a.jpg", "--original-colors"], Translate("-c", "a.jpg", "--original-colors", "1").Args);
        Assert.Equal(["--original-colors", "b.jpg"], Translate("--original-colors", "true", "b.jpg").Args);
        Assert.Equal(["-c", "a.jpg", "b.jpg"], Translate("-c", "a.jpg", "--original-colors", "0", "b.jpg").Args);
        Assert.Equal(["--original-colors", "b.jpg"], Translate("--original-colors", "b.jpg").Args);   // the flag before an image
        Assert.Null(Translate("--original-colors", "1").Note);
    }

    [Fact]
    public void TheirDefaultsMeaningSomethingElseHereAreConverted()
    {
        // -tv_weight relative to their default 1e-3 (our 1); Adam's step from 0..255 pixels to 0..1.
        var t = Translate("-tv_weight", "5e-4", "-optimizer", "adam", "-learning_rate", "10");
        Assert.Equal(["--tv-weight", "0.5", "--optimizer", "adam", "--learning-rate", ((float)(10 / 255.0)).ToString("R", System.Globalization.CultureInfo.InvariantCulture)], t.Args);
        Assert.Contains("-tv_weight 5e-4 is --tv-weight 0.5", t.Note);
        Assert.Contains("-learning_rate 10 is --learning-rate 0.0392", t.Note);
        Assert.Equal(["--tv-weight", "0"], Translate("-tv_weight", "0").Args);

        // neural_style.lua gives -learning_rate to Adam only: with L-BFGS (their default optimizer too) it is said, not used.
        var lbfgs = Translate("-learning_rate", "1e1");
        Assert.Empty(lbfgs.Args);
        Assert.Contains("-learning_rate 1e1 ignored with L-BFGS", lbfgs.Note);

        // -seed -1 (their default: a random seed) draws one and says which; -print_iter 0 prints nothing.
        var seed = Translate("-seed", "-1");
        int drawn = new Random(42).Next();
        Assert.Equal(["--seed", drawn.ToString(System.Globalization.CultureInfo.InvariantCulture)], seed.Args);
        Assert.Contains($"-seed -1 drew --seed {drawn}", seed.Note);
        Assert.Equal(["--quiet"], Translate("-print_iter", "0").Args);

        // Their neutral values add nothing: "nil" blend weights, 0 history (torch's default 100), -original_colors 0.
        Assert.Empty(Translate("-style_blend_weights", "nil", "-lbfgs_num_correction", "0", "-original_colors", "0", "-multigpu_strategy", "").Args);
        Assert.Contains("tunes its kernels anyway", Translate("-cudnn_autotune").Note);
    }

    [Theory]
    [InlineData(new[] { "-gpu", "0" }, "cuda:0")]
    [InlineData(new[] { "-gpu", "2", "-backend", "cudnn" }, "cuda:2")]
    [InlineData(new[] { "-backend", "clnn" }, "opencl:0")]
    [InlineData(new[] { "-gpu", "1", "-backend", "clnn" }, "opencl:1")]
    [InlineData(new[] { "-gpu", "-1", "-backend", "nn" }, "opencl:7")]
    public void GpuAndBackendNameOneDevice(string[] args, string device)
    {
        var t = Translate(args);
        Assert.Equal(["--device", device], t.Args);
        if (device == "opencl:7") Assert.Contains("their CPU mode, is opencl:7", t.Note);
    }

    [Fact]
    public void InitImageStartsFromThatFile()
    {
        Assert.Equal(["--init", "x.png"], Translate("-init_image", "x.png").Args);
        Assert.Equal(["--init", "x.png"], Translate("-init", "image", "-init_image", "x.png").Args);
        Assert.Equal(["--weights", "v.ilgw"], Translate("-model_file", "v.ilgw", "-proto_file", "deploy.prototxt").Args);
    }

    [Theory]
    [InlineData("-init random contradicts -init_image", new[] { "-init", "random", "-init_image", "x.png" })]
    [InlineData("-normalize_gradients is not supported", new[] { "-normalize_gradients" })]
    [InlineData("-model_file 'models/VGG_ILSVRC_19_layers.caffemodel': convert it once with `ilgpu-style weights convert --from models/VGG_ILSVRC_19_layers.caffemodel --out weights/vgg19.ilgw`", new[] { "-model_file", "models/VGG_ILSVRC_19_layers.caffemodel" })]
    [InlineData("-model_file 'vgg.t7': IlgpuStyle's network is VGG19 from an .ilgw", new[] { "-model_file", "vgg.t7" })]
    [InlineData("-proto_file 'd.prototxt'", new[] { "-proto_file", "d.prototxt" })]
    [InlineData("-multigpu_strategy: IlgpuStyle runs on one device", new[] { "-multigpu_strategy", "3,6" })]
    [InlineData("-gpu '0,1': IlgpuStyle runs on one device", new[] { "-gpu", "0,1" })]
    [InlineData("-backend 'cuda' is not nn, cudnn or clnn", new[] { "-backend", "cuda" })]
    [InlineData("-original_colors 'yes' is not 0 or 1", new[] { "-original_colors", "yes" })]
    [InlineData("-tv_weight 'x' is not a number", new[] { "-tv_weight", "x" })]
    [InlineData("-print_iter '1.5' is not a whole number", new[] { "-print_iter", "1.5" })]
    [InlineData("-image_size needs a value", new[] { "-c", "a.jpg", "-image_size" })]
    [InlineData("-image_size is given twice", new[] { "-image_size", "64", "-image_size", "128" })]
    [InlineData("--size is also given as jcjohnson/neural-style's option (-image_size)", new[] { "--size", "64", "-image_size", "128" })]
    [InlineData("--content is also given", new[] { "-c", "a.jpg", "-content_image", "b.jpg" })]
    [InlineData("--output is also given", new[] { "--output=x.png", "-output_image", "b.png" })]
    [InlineData("--quiet is also given", new[] { "-q", "-print_iter", "0" })]
    [InlineData("--iterations is also given", new[] { "--num-iterations", "5", "-num_iterations", "6" })]
    public void WhatCannotBeMetIsOneLine(string message, string[] args) =>
        Assert.StartsWith(message, Refused(args));

    [Theory]
    [InlineData("-size", "-size: long options take two dashes (--size).")]
    [InlineData("-output=o.png", "-output=o.png: long options take two dashes (--output).")]
    [InlineData("-num-iterations", "-num-iterations: long options take two dashes (--num-iterations).")]
    public void ALongOptionWithOneDashIsNamedRight(string token, string message) =>
        Assert.Equal(message, Assert.Throws<UsageException>(() => LongOptionDashes.Check(Stylize, ["-c", "a.jpg", token, "32"])).Message);

    [Fact]
    public void ShortOptionsAndNegativeNumbersAreNotLongOptions() =>
        LongOptionDashes.Check(Stylize, ["-c", "a.jpg", "-s", "b.jpg", "-q", "--seed", "-1", "--style-scale", "-0.5", "-o", "-x.png"]);

    [Fact]
    public void OneDashLongOptionsOnTheCommandLineAreOneLineErrors()
    {
        var (code, _, err) = CliRunner.Run("stylize", "-c", "a.jpg", "-s", "b.jpg", "-size", "32");
        Assert.Equal(2, code);
        Assert.Equal("error: -size: long options take two dashes (--size).", err.Trim());
        (code, _, err) = CliRunner.Run("stylize", "-content_image", "a.jpg", "-style_image", "b.jpg", "-normalize_gradients");
        Assert.Equal(2, code);
        Assert.StartsWith("error: -normalize_gradients is not supported", err.Trim());
        Assert.Single(err.Trim().Split('\n'));
    }

    /// <summary>
    /// A neural_style.lua command line makes the bytes the same run makes in this tool's options (same seed and
    /// device), and says how it was read; on Devices.QuickestForOptionTests, the network to relu2_1.
    /// </summary>
    [Fact]
    public void TheirCommandLineMakesTheSamePictureAsOurs()
    {
        var images = SharedData.RequireOrSkip("images");
        string content = Path.Combine(images, "tubingen.jpg"), style = Path.Combine(images, "golden_gate.jpg");
        string theirs = dir.File("theirs.png"), ours = dir.File("ours.png");
        string[] common = ["--weights", RealWeights.Path, "--device", Devices.QuickestForOptionTests, "--scales", "1"];

        var (code, _, err) = CliRunner.Run(["stylize", .. common, "-content_image", content, "-style_image", style,
            "-image_size", "32", "-num_iterations", "3", "-init", "random", "-seed", "7", "-tv_weight", "2e-3",
            "-content_layers", "relu2_1", "-style_layers", "relu1_1,relu2_1", "-print_iter", "1", "-output_image", theirs]);
        log.WriteLine(err);
        Assert.Equal(0, code);
        Assert.Contains("note: read jcjohnson/neural-style's options as: --content", err);
        Assert.Contains("--tv-weight 2 --content-layers relu2_1", err);

        (code, _, err) = CliRunner.Run(["stylize", .. common, "--content", content, "--style", style, "--size", "32",
            "--iterations", "3", "--init", "noise", "--seed", "7", "--tv-weight", "2", "--content-layers", "relu2_1",
            "--style-layers", "relu1_1,relu2_1", "--quiet", "--output", ours]);
        Assert.Equal(0, code);
        Assert.DoesNotContain("note:", err);
        Assert.Equal(File.ReadAllBytes(ours), File.ReadAllBytes(theirs));

        // A different -tv_weight gives another picture: the option reached the run.
        (code, _, _) = CliRunner.Run(["stylize", .. common, "-content_image", content, "-style_image", style,
            "-image_size", "32", "-num_iterations", "3", "-init", "random", "-seed", "7", "-tv_weight", "1e-1",
            "-content_layers", "relu2_1", "-style_layers", "relu1_1,relu2_1", "-print_iter", "0", "-output_image", theirs]);
        Assert.Equal(0, code);
        Assert.NotEqual(File.ReadAllBytes(ours), File.ReadAllBytes(theirs));
    }
}
