using System.Diagnostics;
using IlgpuStyle.Autodiff.Optimizers;
using IlgpuStyle.Cli.Imaging;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Network.Weights;

namespace IlgpuStyle.Cli.Stylize;

/// <summary>
/// The Gatys pipeline, coarse to fine: at each scale s = 1..N the content is resized so its long side is
/// Size / 2^(N−s), the style images to that times StyleScale; the image starts from the chosen init (first scale)
/// or the previous scale's best result upscaled, and the optimizer runs Iterations steps of <see cref="GatysLoss"/>.
/// The result of a scale is its best iterate by total loss.
/// </summary>
public sealed class Stylizer(StylizeOptions options, IStylizeObserver observer)
{
    public StylizeResult Run()
    {
        var o = options;
        Validate(o);
        var clock = Stopwatch.StartNew();
        // Inputs first: a bad image or layer name fails before any device work.
        var content = ImageLoader.Load(o.ContentPath);
        var styles = o.StylePaths.Select(ImageLoader.Load).ToList();
        var blend = Blend(o);
        RgbImage? initFile = o.Init is "content" or "noise" or "style" ? null : ImageLoader.Load(o.Init);
        var weightsPath = WeightsLocator.Find(o.WeightsPath);
        var weights = VggWeights.Load(weightsPath);

        using var gpu = DeviceCatalog.Open(o.Device, out var why);
        observer.Message(why);
        observer.Message($"weights: {weightsPath} ({weights.Preprocessing})");
        using var network = new Vgg19(gpu, weights, o.Pooling, o.ContentLayers.Concat(o.StyleLayers));

        RgbImage? previous = null;
        LossValues last = default;
        var intermediates = new List<string>();
        for (int scale = 1; scale <= o.Scales; scale++)
        {
            int longSide = Math.Max(16, (int)Math.Round(o.Size / Math.Pow(2, o.Scales - scale)));
            var contentS = ImageResizer.FitLongSide(content, longSide);
            int w = contentS.Width, h = contentS.Height;
            int styleSide = Math.Max(16, (int)Math.Round(longSide * o.StyleScale));
            var init = previous is not null ? ImageResizer.Resize(previous, w, h)
                : o.Init switch
                {
                    "content" => contentS,
                    "noise" => ImageTensors.Noise(w, h, o.Seed),
                    "style" => ImageResizer.Resize(styles[0], w, h),
                    _ => ImageResizer.Resize(initFile!, w, h),
                };
            observer.Message($"scale {scale}/{o.Scales}: {w}×{h}, style long side {styleSide}");

            using var contentT = ImageTensors.ToDevice(gpu, contentS);
            var styleTs = styles.Select(s => ImageTensors.ToDevice(gpu, ImageResizer.FitLongSide(s, styleSide))).ToList();
            GatysLoss loss;
            try
            {
                loss = new GatysLoss(network, contentT, styleTs.Select((t, i) => (t, blend[i])).ToList(), o);
            }
            finally
            {
                foreach (var t in styleTs) t.Dispose();
            }
            using (loss)
            using (var x = ImageTensors.ToDevice(gpu, init))
            using (var best = gpu.Allocate(x.Shape))
            using (var minimizer = CreateMinimizer(gpu, x.Shape, o))
            {
                float bestLoss = float.PositiveInfinity;
                var scaleClock = Stopwatch.StartNew();
                bool first = true;
                float Objective(Tensor point, Tensor gradient)
                {
                    float l = loss.Evaluate(point, gradient);
                    if (first)
                    {
                        // Iteration 0: the loss of the initial image, before any step.
                        first = false;
                        observer.Iteration(new IterationReport(scale, o.Scales, w, h, 0, o.Iterations, loss.Last, 0,
                            clock.Elapsed.TotalSeconds));
                    }
                    if (l < bestLoss)
                    {
                        bestLoss = l;
                        best.CopyFrom(point);
                    }
                    return l;
                }
                void OnIteration(int k, float _)
                {
                    double elapsed = scaleClock.Elapsed.TotalSeconds;
                    observer.Iteration(new IterationReport(scale, o.Scales, w, h, k, o.Iterations, loss.Last,
                        elapsed / k, clock.Elapsed.TotalSeconds));
                    if (o.SaveEvery > 0 && k % o.SaveEvery == 0 && k < o.Iterations)
                    {
                        var path = IntermediatePath(o.OutputPath, scale, o.Scales, k);
                        ImageWriter.Save(Finish(ImageTensors.ToHost(x), content, o), path);
                        intermediates.Add(path);
                    }
                }
                minimizer.Minimize(x, Objective, o.Iterations, OnIteration);
                if (float.IsPositiveInfinity(bestLoss)) best.CopyFrom(x);
                previous = ImageTensors.ToHost(best);
                last = loss.Last;
            }
        }

        var result = Finish(previous!, content, o);
        ImageWriter.Save(result, o.OutputPath);
        var done = new StylizeResult(o.OutputPath, gpu.Info.ToString(), result.Width, result.Height,
            clock.Elapsed.TotalSeconds, last, intermediates);
        observer.Finished(done);
        return done;
    }

    /// <summary>The image as it is saved: --original-colors applied (values are clamped by the writer).</summary>
    private static RgbImage Finish(RgbImage image, RgbImage content, StylizeOptions o) =>
        o.OriginalColors ? OriginalColors.Apply(image, content) : image;

    private static IMinimizer CreateMinimizer(Gpu gpu, Shape4 shape, StylizeOptions o) => o.Optimizer switch
    {
        // Tolerances off, as jcjohnson/neural-style (tolX = tolFun = −1): run the requested iterations.
        OptimizerKind.Lbfgs => new Lbfgs(gpu, shape, o.LbfgsHistory, o.EffectiveLearningRate, o.LineSearch,
            toleranceGradient: -1, toleranceChange: -1),
        _ => new Adam(gpu, shape, o.EffectiveLearningRate),
    };

    private static string IntermediatePath(string output, int scale, int scales, int iteration)
    {
        var dir = Path.GetDirectoryName(output);
        var name = Path.GetFileNameWithoutExtension(output);
        var ext = Path.GetExtension(output);
        var file = scales > 1 ? $"{name}_s{scale}_{iteration:D4}{ext}" : $"{name}_{iteration:D4}{ext}";
        return string.IsNullOrEmpty(dir) ? file : Path.Combine(dir, file);
    }

    private static float[] Blend(StylizeOptions o)
    {
        var b = o.StyleBlend?.ToArray() ?? Enumerable.Repeat(1f, o.StylePaths.Count).ToArray();
        float sum = b.Sum();
        return b.Select(v => v / sum).ToArray();
    }

    /// <summary>Option checks that need no file or device; throw <see cref="StylizeUsageException"/>.</summary>
    public static void Validate(StylizeOptions o)
    {
        if (o.StylePaths.Count == 0) throw new StylizeUsageException("at least one --style image is required.");
        if (o.StyleBlend is { } blend)
        {
            if (blend.Count != o.StylePaths.Count)
                throw new StylizeUsageException($"--style-blend has {blend.Count} values for {o.StylePaths.Count} style images.");
            if (blend.Any(v => v < 0 || !float.IsFinite(v)) || blend.Sum() <= 0)
                throw new StylizeUsageException("--style-blend values must be ≥ 0 and not all 0.");
        }
        if (o.Size < 16) throw new StylizeUsageException($"--size {o.Size} is too small (at least 16).");
        if (o.Scales < 1) throw new StylizeUsageException("--scales must be at least 1.");
        if (o.Size / Math.Pow(2, o.Scales - 1) < 16)
            throw new StylizeUsageException($"--scales {o.Scales} makes the first scale smaller than 16 px at --size {o.Size}.");
        if (o.Iterations < 1) throw new StylizeUsageException("--iterations must be at least 1.");
        if (!(o.StyleScale > 0)) throw new StylizeUsageException("--style-scale must be > 0.");
        if (o.ContentLayers.Count == 0 || o.StyleLayers.Count == 0)
            throw new StylizeUsageException("--content-layers and --style-layers must name at least one layer each.");
        foreach (var layer in o.ContentLayers.Concat(o.StyleLayers)) Vgg19.LayerIndex(layer);
        var ext = Path.GetExtension(o.OutputPath).ToLowerInvariant();
        if (ext is not (".png" or ".jpg" or ".jpeg"))
            throw new StylizeUsageException($"--output '{o.OutputPath}': use a .png, .jpg or .jpeg file name.");
        if (o.LbfgsHistory < 1) throw new StylizeUsageException("--lbfgs-history must be at least 1.");
    }
}

/// <summary>A bad combination of options.</summary>
public sealed class StylizeUsageException(string message) : Exception(message);
