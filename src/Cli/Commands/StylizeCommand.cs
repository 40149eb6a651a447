using IlgpuStyle.Kernels;
using System.CommandLine;
using System.Globalization;
using IlgpuStyle.Autodiff;
using IlgpuStyle.Autodiff.Optimizers;
using IlgpuStyle.Cli.Preview;
using IlgpuStyle.Stylize;

namespace IlgpuStyle.Cli.Commands;

/// <summary>`ilgpu-style stylize`: the jcjohnson/neural-style options that make sense, plus multi-scale.</summary>
public static class StylizeCommand
{
    public static Command Create()
    {
        var d = new StylizeJob { ContentPath = "", StylePaths = [], OutputPath = "" };
        var content = new Option<string>("--content", "-c") { Description = "Content image (JPEG, PNG, WebP); or the first of the images given as arguments." };
        var style = new Option<string[]>("--style", "-s") { Description = "Style image(s): a.jpg b.jpg, or a.jpg,b.jpg as jcjohnson's -style_image; or the images given as arguments after the content.", AllowMultipleArgumentsPerToken = true };
        var images = new Argument<string[]>("images") { Description = "The content image, then the style image(s), as crowsonkb/style-transfer-pytorch takes them (stylize photo.jpg painting.jpg -o out.png); with --content given, the style image(s).", Arity = ArgumentArity.ZeroOrMore };
        var blend = new Option<string[]>("--style-blend") { Description = "Weight of each style image's target (normalized to sum 1): 0.7 0.3, or 0.7,0.3 as jcjohnson's -style_blend_weights.", AllowMultipleArgumentsPerToken = true };
        var styleMask = new Option<string[]>("--style-mask") { Description = "Spatial control: one mask per --style, in the same order (grey = where that style applies, on the content; any size with the content's aspect ratio). Unmasked regions get content only. Masks on the style images: --style-image-mask.", AllowMultipleArgumentsPerToken = true };
        var styleImageMask = new Option<string[]>("--style-image-mask") { Description = "One mask per --style, in the same order, on that style image (grey = weight; any size with the style image's aspect ratio): the style's statistics come from there only.", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--output", "-o") { Description = "Output image (.png or .jpg), written atomically.", DefaultValueFactory = _ => "out.png" };
        var size = new Option<int>("--size") { Description = "Long side of the output in pixels.", DefaultValueFactory = _ => d.Run.Size };
        var styleScale = new Option<float>("--style-scale") { Description = "Style images' size relative to the content's.", DefaultValueFactory = _ => d.Run.StyleScale };
        var scales = new Option<int>("--scales") { Description = "Coarse-to-fine sizes: size/2^(N-1) … size (with --scales-per-octave P: size/2^((N-1)/P) … size).", DefaultValueFactory = _ => d.Run.Scales };
        var scalesPerOctave = new Option<int>("--scales-per-octave") { Description = "Scales per doubling of the size: 1 doubles it from scale to scale, 2 grows it by √2 (crowsonkb's).", DefaultValueFactory = _ => d.Run.ScalesPerOctave };
        var initialIterations = new Option<int?>("--initial-iterations") { Description = "Iterations at the first scale [default: --iterations]." };
        var styleSize = new Option<int?>("--style-size") { Description = "Style images' long side in pixels at every scale, instead of the content's × --style-scale." };
        var iterations = new Option<int>("--iterations", "--num-iterations") { Description = "Optimizer iterations per scale.", DefaultValueFactory = _ => d.Run.Iterations };
        var contentLayers = new Option<string>("--content-layers") { Description = "Comma-separated content layers.", DefaultValueFactory = _ => string.Join(",", d.Loss.ContentLayers) };
        var styleLayers = new Option<string>("--style-layers") { Description = "Comma-separated style layers.", DefaultValueFactory = _ => string.Join(",", d.Loss.StyleLayers) };
        var contentWeight = new Option<float?>("--content-weight") { Description = $"α, weight of the content loss [default: {LossSettings.DefaultContentWeight(StyleLossKind.Gram)} with --style-loss gram, {LossSettings.DefaultContentWeight(StyleLossKind.MeanCov)} with meancov]." };
        var styleWeight = new Option<float>("--style-weight") { Description = "β, weight of the style loss.", DefaultValueFactory = _ => d.Loss.StyleWeight };
        var styleLoss = new Option<string>("--style-loss") { Description = "Style term: gram (Gram matrices, Gatys et al.) or meancov (feature mean and covariance by the 2-Wasserstein distance between Gaussians, Kolkin et al.).", DefaultValueFactory = _ => "gram" };
        styleLoss.AcceptOnlyFromAmong("gram", "meancov");
        var tvWeight = new Option<float>("--tv-weight") { Description = "γ, weight of the total-variation loss.", DefaultValueFactory = _ => d.Loss.TvWeight };
        var optimizer = new Option<string>("--optimizer") { Description = "lbfgs or adam.", DefaultValueFactory = _ => "lbfgs" };
        optimizer.AcceptOnlyFromAmong("lbfgs", "adam");
        var history = new Option<int>("--lbfgs-history") { Description = "L-BFGS history size.", DefaultValueFactory = _ => d.Run.LbfgsHistory };
        var lineSearch = new Option<string>("--line-search") { Description = "L-BFGS line search: wolfe (strong Wolfe; never increases the loss) or none (fixed step, as jcjohnson).", DefaultValueFactory = _ => "wolfe" };
        lineSearch.AcceptOnlyFromAmong("none", "wolfe");
        var learningRate = new Option<float?>("--learning-rate") { Description = "Adam learning rate (default 0.02) or L-BFGS step (default 1)." };
        var init = new Option<string>("--init") { Description = "content, noise, style, gray, uniform, style-mean, or an image file (jcjohnson's image and random: content and noise).", DefaultValueFactory = _ => d.Init };
        var seed = new Option<int>("--seed") { Description = "Random seed (noise init). Same seed and device give the same output bytes.", DefaultValueFactory = _ => d.Run.Seed };
        var pooling = new Option<string>("--pooling") { Description = "max or avg.", DefaultValueFactory = _ => "max" };
        pooling.AcceptOnlyFromAmong("max", "avg");
        var colorControl = new Option<string?>("--color-control") { Description = "Colours of the result: none (the style's; default), original (the content's chroma on the result's luminance), luminance (stylize the luminance only, then the content's chroma), histogram (style images' colours mapped to the content's first)." };
        colorControl.AcceptOnlyFromAmong(ColorModes.Keys.ToArray());
        var originalColors = new Option<bool>("--original-colors") { Description = "Same as --color-control original." };
        var averageDecay = new Option<float>("--average-decay") { Description = "Adam only: output the moving average of the iterates with this decay D in [0, 1) (0 = off; e.g. 0.99).", DefaultValueFactory = _ => d.Run.AverageDecay };
        var saveEvery = new Option<int>("--save-every") { Description = "Write an intermediate image every K iterations (0 = never).", DefaultValueFactory = _ => 0 };
        var printEvery = new Option<int>("--print-every") { Description = "Log line every K iterations when stderr is not a terminal.", DefaultValueFactory = _ => 50 };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress output." };
        var report = new Option<string?>("--report") { Description = "Write one JSON object per iteration (and a final one) to this file." };
        var device = new Option<string>("--device") { Description = "auto, cuda, opencl or cpu, optionally :index (opencl:1).", DefaultValueFactory = _ => "auto" };
        var autotune = AutotuneOption.Create();
        var precision = PrecisionOption.Create();
        var maxMemory = new Option<string?>("--max-memory") { Description = "Device memory to plan with (e.g. 4G, 512M; default $ILGPU_STYLE_MAX_MEMORY or the device's): larger images run in exact tiles, L-BFGS history is cut to fit." };
        var tileSize = new Option<int?>("--tile-size") { Description = "Evaluate in tiles of at most this many pixels a side (default: only when memory requires)." };
        var weights = new Option<string?>("--weights") { Description = "VGG19 .ilgw file (default: $ILGPU_STYLE_WEIGHTS, ./weights/vgg19.ilgw, the user cache)." };
        var preview = new PreviewOptions();

        var command = new Command("stylize", "Paint the content image in the style of the style image(s). jcjohnson/neural-style's options (-content_image a.jpg -image_size 512 …) are read too.");
        foreach (var option in new Option[] { content, style, blend, styleMask, styleImageMask, output, size, styleScale, styleSize, scales, scalesPerOctave, iterations, initialIterations, contentLayers, styleLayers,
                     contentWeight, styleWeight, styleLoss, tvWeight, optimizer, history, lineSearch, learningRate, init, seed, pooling, colorControl, originalColors,
                     averageDecay, saveEvery, printEvery, quiet, report, device, autotune, precision, maxMemory, tileSize, weights, preview.Preview, preview.Port })
            command.Options.Add(option);
        command.Arguments.Add(images);

        command.SetAction(parse => CliErrors.Run(() =>
        {
            var (contentPath, stylePaths) = Images(parse.GetValue(content), parse.GetValue(style), parse.GetValue(images));
            CheckPath("--content", contentPath);
            foreach (var p in stylePaths) CheckPath("--style", p);
            foreach (var p in parse.GetValue(styleMask) ?? []) CheckPath("--style-mask", p);
            foreach (var p in parse.GetValue(styleImageMask) ?? []) CheckPath("--style-image-mask", p);
            CheckPath("--output", parse.GetValue(output));
            CheckPath("--report", parse.GetValue(report));
            CheckPath("--weights", parse.GetValue(weights));
            CheckPath("--init", parse.GetValue(init));
            var colors = ColorMode(parse.GetValue(colorControl), parse.GetValue(originalColors));
            using var server = preview.Start(parse, Console.Error);   // disposed last: lingers for a watching page
            var job = new StylizeJob
            {
                ContentPath = contentPath,
                StylePaths = StylePaths(stylePaths),
                StyleBlend = BlendWeights(parse.GetValue(blend)),
                StyleMaskPaths = parse.GetValue(styleMask) is { Length: > 0 } masks ? masks : null,
                StyleImageMaskPaths = parse.GetValue(styleImageMask) is { Length: > 0 } imageMasks ? imageMasks : null,
                OutputPath = parse.GetValue(output)!,
                Init = parse.GetValue(init)!,
                Pooling = parse.GetValue(pooling) == "avg" ? PoolingKind.Avg : PoolingKind.Max,
                Device = parse.GetValue(device)!,
                Autotune = AutotuneOption.Read(parse, autotune),
                Precision = PrecisionOption.Read(parse, precision),
                WeightsPath = parse.GetValue(weights),
                Preview = server?.State,
                Loss = new LossSettings
                {
                    ContentLayers = Layers(parse.GetValue(contentLayers)!),
                    StyleLayers = Layers(parse.GetValue(styleLayers)!),
                    StyleWeight = parse.GetValue(styleWeight),
                    TvWeight = parse.GetValue(tvWeight),
                    StyleLoss = parse.GetValue(styleLoss) == "meancov" ? StyleLossKind.MeanCov : StyleLossKind.Gram,
                } is var loss && parse.GetValue(contentWeight) is float alpha ? loss with { ContentWeight = alpha } : loss,
                Run = new RunSettings
                {
                    Size = parse.GetValue(size),
                    StyleScale = parse.GetValue(styleScale),
                    Scales = parse.GetValue(scales),
                    ScalesPerOctave = parse.GetValue(scalesPerOctave),
                    Iterations = parse.GetValue(iterations),
                    InitialIterations = parse.GetValue(initialIterations),
                    StyleSize = parse.GetValue(styleSize),
                    Optimizer = parse.GetValue(optimizer) == "adam" ? OptimizerKind.Adam : OptimizerKind.Lbfgs,
                    LbfgsHistory = parse.GetValue(history),
                    LineSearch = parse.GetValue(lineSearch) == "wolfe" ? LineSearch.StrongWolfe : LineSearch.None,
                    LearningRate = parse.GetValue(learningRate),
                    Seed = parse.GetValue(seed),
                    ColorControl = colors,
                    AverageDecay = parse.GetValue(averageDecay),
                    SnapshotEvery = parse.GetValue(saveEvery),
                    MaxMemoryBytes = parse.GetValue(maxMemory) is { } m ? ParseBytes("--max-memory", m) : null,
                    TileSide = parse.GetValue(tileSize),
                },
            };
            using var observer = new ConsoleObserver(parse.GetValue(quiet), Math.Max(1, parse.GetValue(printEvery)), parse.GetValue(report));
            using var interrupt = new Interrupt(observer);
            var done = job.Execute(observer, interrupt.Token);
            return done.Result.Cancelled ? Interrupt.ExitCode : 0;
        }));
        return command;
    }

    private static readonly Dictionary<string, ColorControl> ColorModes = new()
    {
        ["none"] = ColorControl.None, ["original"] = ColorControl.Original,
        ["luminance"] = ColorControl.Luminance, ["histogram"] = ColorControl.Histogram,
    };

    /// <summary>--color-control, with --original-colors as an alias of "original"; both given and different is bad input.</summary>
    private static ColorControl ColorMode(string? value, bool originalColors)
    {
        if (value is null) return originalColors ? ColorControl.Original : ColorControl.None;
        var mode = ColorModes[value];
        if (originalColors && mode != ColorControl.Original)
            throw new UsageException($"--original-colors is --color-control original: it contradicts --color-control {value}.");
        return mode;
    }

    /// <summary>
    /// The content and style images from --content, --style and the arguments: without --content the first argument
    /// is the content (crowsonkb/style-transfer-pytorch's <c>style_transfer content.jpg style.jpg</c>), the other
    /// arguments are styles after --style's. Neither given is bad input, in one line.
    /// </summary>
    internal static (string Content, string[] Styles) Images(string? content, string[]? styles, string[]? images)
    {
        var arguments = images ?? [];
        if (content is null && arguments.Length > 0) (content, arguments) = (arguments[0], arguments[1..]);
        if (content is null)
            throw new UsageException("no content image: give --content FILE, or the content and then the style image(s) as arguments.");
        string[] all = [.. styles ?? [], .. arguments];
        if (all.Length == 0)
            throw new UsageException("no style image: give --style FILE (several: a.jpg b.jpg), or the style image(s) as arguments after the content.");
        return (content, all);
    }

    /// <summary>An empty path or one with a NUL character is bad input (the file APIs would throw ArgumentException).</summary>
    private static void CheckPath(string option, string? path)
    {
        if (path is not null && (path.Trim().Length == 0 || path.Contains('\0')))
            throw new UsageException($"{option} '{path.Replace("\0", "\\0")}' is not a file name.");
    }

    private static long ParseBytes(string option, string text)
    {
        try
        {
            return ByteSize.Parse(text);
        }
        catch (ByteSizeException e)
        {
            throw new UsageException($"{option} {e.Message}");
        }
    }

    /// <summary>
    /// --style's images, given as separate arguments or comma-separated (jcjohnson/neural-style's -style_image
    /// a.jpg,b.jpg): a token with a comma is split only when it is not a file itself and every piece is one, so a file
    /// name with a comma still works and a missing file is reported by its name as given.
    /// </summary>
    internal static string[] StylePaths(string[] tokens) =>
    [
        .. tokens.SelectMany(t => t.Contains(',') && !File.Exists(t) && t.Split(',') is var pieces && pieces.All(File.Exists) ? pieces : [t]),
    ];

    /// <summary>
    /// --style-blend's weights, given as separate arguments, comma-separated (jcjohnson/neural-style's
    /// -style_blend_weights 3,7) or both; null when absent. A piece that is not a number is bad input; the values
    /// themselves are checked with the styles (StyleImage.ValidateWeights).
    /// </summary>
    internal static float[]? BlendWeights(string[]? tokens)
    {
        if (tokens is not { Length: > 0 }) return null;
        var weights = new List<float>();
        foreach (var piece in tokens.SelectMany(t => t.Split(',', StringSplitOptions.TrimEntries)))
        {
            if (!float.TryParse(piece, NumberStyles.Float, CultureInfo.InvariantCulture, out float w))
                throw new UsageException($"--style-blend '{piece}' is not a number (weights: 0.7 0.3, or 0.7,0.3).");
            weights.Add(w);
        }
        return [.. weights];
    }

    private static string[] Layers(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
