using IlgpuStyle.Kernels;
using IlgpuStyle.Autodiff;
using IlgpuStyle.Cli.Preview;
using IlgpuStyle.Network;
using IlgpuStyle.Network.Weights;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Guided;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Stylize.Tiling;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// One `stylize` command line: the files, the device and weights to use, and the library's settings. <see cref="Run"/>
/// loads the files, opens the device, runs <see cref="Stylizer"/> and writes the output atomically (also when the run
/// is cancelled: the best image so far).
/// </summary>
public sealed record StylizeJob
{
    public required string ContentPath { get; init; }
    public required IReadOnlyList<string> StylePaths { get; init; }
    /// <summary>Weights of the styles' Gram targets (normalized to sum 1); null = equal.</summary>
    public IReadOnlyList<float>? StyleBlend { get; init; }
    /// <summary>Spatial control: one mask file per style, in the same order; null = none.</summary>
    public IReadOnlyList<string>? StyleMaskPaths { get; init; }
    /// <summary>One mask file per style on its style image (where its statistics come from), in the same order; null = none.</summary>
    public IReadOnlyList<string>? StyleImageMaskPaths { get; init; }
    public required string OutputPath { get; init; }
    /// <summary>"content" (or "image"), "noise" (or "random"), "style", "gray", "uniform", "style-mean" or an image path.</summary>
    public string Init { get; init; } = "content";
    public PoolingKind Pooling { get; init; } = PoolingKind.Max;
    public string Device { get; init; } = "auto";
    /// <summary>How the device's tuning plan is chosen (--autotune; null: ILGPU_STYLE_AUTOTUNE, else quick).</summary>
    public AutotuneMode? Autotune { get; init; }
    /// <summary>--precision: applied after the autotuner (which times FP32 kernels).</summary>
    public Precision Precision { get; init; }
    public string? WeightsPath { get; init; }
    public LossSettings Loss { get; init; } = new();
    public RunSettings Run { get; init; } = new();
    /// <summary>The --preview page's state: sees every iteration, its image, and the end of the run; null = no preview.</summary>
    public PreviewState? Preview { get; init; }

    /// <summary>Option checks that need no file or device; throw <see cref="StylizeUsageException"/>.</summary>
    public void Validate()
    {
        if (StyleBlend is { } blend && blend.Count != StylePaths.Count)
            throw new StylizeUsageException($"--style-blend has {blend.Count} values for {StylePaths.Count} style images.");
        StyleImage.ValidateWeights(StyleBlend ?? StylePaths.Select(_ => 1f).ToArray());
        if (StyleMaskPaths is { } masks && masks.Count != StylePaths.Count)
            throw new StylizeUsageException($"--style-mask has {masks.Count} mask{(masks.Count == 1 ? "" : "s")} for {StylePaths.Count} style image{(StylePaths.Count == 1 ? "" : "s")}: give one mask per --style, in the same order.");
        if (StyleImageMaskPaths is { } imageMasks && imageMasks.Count != StylePaths.Count)
            throw new StylizeUsageException($"--style-image-mask has {imageMasks.Count} mask{(imageMasks.Count == 1 ? "" : "s")} for {StylePaths.Count} style image{(StylePaths.Count == 1 ? "" : "s")}: give one mask per --style, in the same order.");
        Loss.Validate();
        if (StyleMaskPaths is not null && Loss.StyleLoss != StyleLossKind.Gram) throw new StylizeUsageException(Stylizer.MasksNeedGram);
        if (StyleImageMaskPaths is not null && Loss.StyleLoss != StyleLossKind.Gram) throw new StylizeUsageException(Stylizer.ImageMasksNeedGram);
        Run.Validate();
        var ext = Path.GetExtension(OutputPath).ToLowerInvariant();
        if (ext is not (".png" or ".jpg" or ".jpeg"))
            throw new StylizeUsageException($"--output '{OutputPath}': use a .png, .jpg or .jpeg file name.");
    }

    public StylizeJobResult Execute(ConsoleObserver observer, CancellationToken cancel)
    {
        Validate();
        // Inputs first: a bad image or layer name fails before any device work.
        var content = ImageLoader.Load(ContentPath);
        // Sizes the network cannot take are refused now, before the weights and the device are loaded.
        Stylizer.FirstScale(Loss.Layers.MaxBy(Vgg19.LayerIndex)!, content.Width, content.Height, Run);
        var styles = StylePaths.Select((p, i) => new StyleImage(ImageLoader.Load(p), StyleBlend?[i] ?? 1f)
        {
            Mask = StyleMaskPaths is { } masks ? LoadMask("--style-mask", masks[i]) : null,
            ImageMask = StyleImageMaskPaths is { } imageMasks ? LoadMask("--style-image-mask", imageMasks[i]) : null,
        }).ToList();
        Stylizer.CheckStyleSizes(styles, Run);
        StyleMasks.Validate(content.Width, content.Height, styles, StyleMaskPaths);
        StyleMasks.ValidateImageMasks(styles, StyleImageMaskPaths, StylePaths);
        var run = WithInit(Run, Init);
        // The preview shows every iteration's image; the --save-every writer still keeps only every K-th.
        if (Preview is not null) run = run with { SnapshotEvery = 1 };
        observer.Run = run;
        var weightsPath = WeightsLocator.Find(WeightsPath);
        var weights = VggWeights.Load(weightsPath);

        using var gpu = DeviceCatalog.Open(Device, out var why);
        // --max-memory caps the device like ILGPU_STYLE_MAX_MEMORY (the lower wins): the planner plans within it and
        // an allocation past it fails as out of memory, so the measured peak never exceeds it.
        if (run.MaxMemoryBytes is long max) gpu.MemoryLimitBytes = Math.Min(max, gpu.MemoryLimitBytes ?? long.MaxValue);
        observer.Message(why);
        var mode = AutotuneModes.Resolve(Autotune);
        var cache = new PlanCache(PlanCache.DefaultPath);
        var tuning = Autotuner.Apply(gpu, mode, cache, observer.Message, noTuningBecause: Precisions.NoFp32TuningBecause(gpu, Precision));
        (var precision, tuning) = Precisions.ApplyAfterTuning(gpu, Precision, tuning, mode, cache, observer.Message, out var precisionNote);
        gpu.ResetPeak(); // the report's peak is the stylization's; a first run's tuning buffers are freed by now
        if (precisionNote is not null) observer.Message(precisionNote);
        observer.Message(tuning.ToString());
        observer.Tuning(tuning, precision);
        observer.Message($"weights: {weightsPath} ({weights.Preprocessing})");
        using var network = new Vgg19(gpu, weights, Pooling, Loss.Layers);
        var snapshots = new SnapshotWriter(OutputPath, run.Scales, Run.SnapshotEvery);
        var result = Stylizer.Run(network, content, styles, Loss, run, new Observers(observer, snapshots, Preview), cancel);
        ImageWriter.Save(result.Image, OutputPath);
        if (gpu.KernelCache is { } kernels) observer.Message(kernels.Summary());
        var done = new StylizeJobResult(OutputPath, gpu.Info.ToString(), result, snapshots.Written, gpu.PeakBytes);
        observer.Finished(done);
        Preview?.Finished(result);
        if (result.Failure is { } failure)
            throw new RunFailedException($"{failure} The best finite image so far was written to {OutputPath}.");
        return done;
    }

    /// <summary>
    /// <paramref name="run"/> starting from --init <paramref name="init"/>: content, noise, style (keywords first) or an image
    /// file; jcjohnson/neural-style's -init image and -init random are content and noise.
    /// </summary>
    internal static RunSettings WithInit(RunSettings run, string init) => init switch
    {
        "content" or "image" => run with { Init = InitKind.Content },
        "noise" or "random" => run with { Init = InitKind.Noise },
        "style" => run with { Init = InitKind.Style },
        "gray" or "grey" => run with { Init = InitKind.Gray },
        "uniform" => run with { Init = InitKind.Uniform },
        "style-mean" or "style_mean" => run with { Init = InitKind.StyleMean },
        _ => run with { Init = InitKind.Image, InitImage = ImageLoader.Load(init) },
    };

    /// <summary>A --style-mask or --style-image-mask file; its errors name the <paramref name="option"/>.</summary>
    private static GreyMask LoadMask(string option, string path)
    {
        try
        {
            return GreyMask.Load(path);
        }
        catch (ImageLoadException e)
        {
            throw new ImageLoadException($"{option}: {e.Message}", e);
        }
    }

    /// <summary>Writes --save-every images as out_s&lt;scale&gt;_&lt;iteration&gt;.png beside the output.</summary>
    private sealed class SnapshotWriter(string output, int scales, int every) : IStylizeObserver
    {
        public List<string> Written { get; } = new();

        public void Snapshot(IterationReport report, RgbImage image)
        {
            if (every <= 0 || report.Iteration % every != 0) return;
            var dir = Path.GetDirectoryName(output);
            var name = Path.GetFileNameWithoutExtension(output);
            var ext = Path.GetExtension(output);
            var file = scales > 1 ? $"{name}_s{report.Scale}_{report.Iteration:D4}{ext}" : $"{name}_{report.Iteration:D4}{ext}";
            var path = string.IsNullOrEmpty(dir) ? file : Path.Combine(dir, file);
            ImageWriter.Save(image, path);
            Written.Add(path);
        }
    }

    private sealed class Observers(ConsoleObserver console, SnapshotWriter snapshots, PreviewState? preview) : IStylizeObserver
    {
        public void Message(string text)
        {
            console.Message(text);
            preview?.Message(text);
        }

        public void Iteration(IterationReport report)
        {
            console.Iteration(report);
            preview?.Iteration(report);
        }

        public void Snapshot(IterationReport report, RgbImage image)
        {
            snapshots.Snapshot(report, image);
            preview?.Snapshot(report, image);
        }

        public void Plan(int scale, MemoryPlan plan) => console.Plan(scale, plan);
        public void Tile(int done, int total) => console.Tile(done, total);
    }
}

/// <summary>What a `stylize` run wrote.</summary>
/// <param name="PeakDeviceBytes">The device memory high-water mark of the run (weights, targets, tape, optimizer), measured.</param>
public sealed record StylizeJobResult(string OutputPath, string Device, StylizeResult Result, IReadOnlyList<string> Intermediates,
    long PeakDeviceBytes);
