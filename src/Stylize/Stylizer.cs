using System.Diagnostics;
using IlgpuStyle.Autodiff.Optimizers;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize.Guided;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Stylize.Tiling;

namespace IlgpuStyle.Stylize;

/// <summary>
/// The Gatys pipeline, coarse to fine, in memory: at each scale s = 1..N the content is resized so its long side is
/// <see cref="RunSettings.LongSide"/> (Size / 2^(N−s) by default), the style images (and the masks on them) to that times StyleScale
/// (or to StyleSize); the image starts from the chosen init (first scale) or the previous scale's best result upscaled,
/// and the optimizer runs Iterations steps of <see cref="GatysLoss"/> (InitialIterations at the first scale).
/// The result of a scale is its best iterate by total loss (with <see cref="RunSettings.AverageDecay"/>, the moving
/// average of Adam's iterates instead). Files, devices and weights are the caller's: this
/// takes an open network (on its <see cref="Gpu"/>) and images, and returns an image.
/// <para>Cancelling <paramref name="cancel"/> stops at the next evaluation or iteration; the result is then the best
/// iterate of the scale reached (<see cref="StylizeResult.Cancelled"/>), or the start image if none was evaluated.</para>
/// </summary>
public static class Stylizer
{
    public static StylizeResult Run(Vgg19 network, RgbImage content, IReadOnlyList<StyleImage> styles,
        LossSettings loss, RunSettings run, IStylizeObserver? observer = null, CancellationToken cancel = default)
    {
        Validate(network, styles, loss, run);
        observer ??= new NoObserver();
        var gpu = network.Gpu;
        var clock = Stopwatch.StartNew();
        float weightSum = styles.Sum(s => s.Weight);
        var reports = new List<IterationReport>();
        var plans = new List<MemoryPlan>();
        RgbImage? previous = null;
        LossValues last = default;
        int firstScale = FirstScale(network.DeepestLayer, content.Width, content.Height, run, observer);
        int minimumSide = Vgg19.MinimumSide(network.DeepestLayer);
        CheckStyleSizes(styles, run, minimumSide);
        StyleMasks.Validate(content.Width, content.Height, styles);
        StyleMasks.ValidateImageMasks(styles);
        if (styles.Any(s => s.ImageMask is not null))
            observer.Message("style image masks keep " + string.Join(", ", styles.Select(s => s.ImageMask is null ? "all"
                : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{100 * s.ImageMask.Data.Average():0} %"))) +
                             " of the style images (mean weight per style): their statistics come from there");
        if (StyleMasks.Any(styles))
            observer.Message("style masks cover " + string.Join(", ", styles.Select(s =>
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{100 * s.Mask!.Data.Average():0} %"))) +
                             " of the content (mean weight per style; elsewhere content only)");
        // Colour control: the images the optimization sees (Finish gives the result the content's colours back).
        var colorClock = Stopwatch.StartNew();
        var optimizedContent = ColorControlSteps.Content(content, run.ColorControl);
        styles = ColorControlSteps.Styles(styles, content, run.ColorControl);
        run = ColorControlSteps.Init(run);
        if (run.ColorControl is ColorControl.Luminance or ColorControl.Histogram)
            observer.Message($"colour control {run.ColorControl.ToString().ToLowerInvariant()}: images prepared in {colorClock.Elapsed.TotalMilliseconds:0} ms");
        for (int scale = firstScale; scale <= run.Scales; scale++)
        {
            int longSide = run.LongSide(scale);
            var contentS = ImageResizer.FitLongSide(optimizedContent, longSide);
            int w = contentS.Width, h = contentS.Height;
            int styleSide = run.StyleLongSide(longSide);
            int iterations = run.IterationsAt(scale, firstScale);
            var init = previous is not null ? ImageResizer.Resize(previous, w, h)
                : StartImages.For(run, w, h, contentS, styles.Select(s => (s.Image, s.Weight / weightSum)).ToList());
            var styleSizes = styles.Select(s => StyleSize(s.Image.Width, s.Image.Height, styleSide, minimumSide)).ToList();
            var raised = styleSizes.Select((size, i) => (size, i)).Where(r => Math.Max(r.size.Width, r.size.Height) > styleSide)
                .Select(r => $"style {r.i + 1} {r.size.Width}×{r.size.Height}").ToList();
            observer.Message($"scale {scale}/{run.Scales}: {w}×{h}, style long side {styleSide}" + (raised.Count == 0 ? ""
                : $" ({string.Join(", ", raised)}: raised to the {minimumSide} px short side VGG19 needs up to {network.DeepestLayer})"));
            var masks = StyleMasks.AtSize(styles, w, h);
            var imageMasks = StyleMasks.ImageMasksAtSize(styles, styleSizes);
            var plan = MemoryPlanner.Plan(w, h, styleSizes, network.DeepestLayer, loss, run, PlannedLiveBytes(gpu), BudgetBytes(gpu, run),
                maskedStyles: masks?.Count ?? 0, maskedStyleImages: imageMasks?.Count(m => m is not null) ?? 0);
            plans.Add(plan);
            observer.Plan(scale, plan);

            GatysLoss objective;
            using (var contentT = ImageTensors.ToDevice(gpu, contentS))
            {
                var styleTs = styles.Select((s, i) => ImageTensors.ToDevice(gpu, ImageResizer.Resize(s.Image, styleSizes[i].Width, styleSizes[i].Height))).ToList();
                try
                {
                    objective = new GatysLoss(network, contentT, styleTs.Select((t, i) => (t, styles[i].Weight / weightSum)).ToList(), loss, plan.TileSide, masks, imageMasks);
                }
                finally
                {
                    foreach (var t in styleTs) t.Dispose();
                }
            }
            objective.TileDone = (done, total) =>
            {
                observer.Tile(done, total);
                cancel.ThrowIfCancellationRequested(); // a tiled evaluation can take minutes: stop between tiles
            };
            using (objective)
            using (var x = ImageTensors.ToDevice(gpu, init))
            using (var best = gpu.Allocate(x.Shape))
            using (var minimizer = CreateMinimizer(gpu, x.Shape, run, plan.History))
            {
                float bestLoss = float.PositiveInfinity;
                var scaleClock = Stopwatch.StartNew();
                bool first = true;
                int evaluations = 0, reportedEvaluations = 0; // this scale's, and those already in an iteration report
                void Report(IterationReport r)
                {
                    reports.Add(r);
                    observer.Iteration(r);
                }
                float Objective(Tensor point, Tensor gradient)
                {
                    cancel.ThrowIfCancellationRequested();
                    float l = objective.Evaluate(point, gradient);
                    evaluations++;
                    if (first)
                    {
                        // Iteration 0: the loss of the initial image, before any step.
                        first = false;
                        reportedEvaluations = 1;
                        Report(new IterationReport(scale, run.Scales, w, h, 0, iterations, objective.Last, 0,
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
                    var r = new IterationReport(scale, run.Scales, w, h, k, iterations, objective.Last,
                        scaleClock.Elapsed.TotalSeconds / k, clock.Elapsed.TotalSeconds)
                    {
                        Evaluations = evaluations - reportedEvaluations,
                        EvaluationsPerIteration = (evaluations - 1) / (double)k,
                    };
                    reportedEvaluations = evaluations;
                    Report(r);
                    if (run.SnapshotEvery > 0 && k % run.SnapshotEvery == 0 && k < iterations)
                        observer.Snapshot(r, Finish(ImageTensors.ToHost(x), content, run));
                    cancel.ThrowIfCancellationRequested();
                }
                bool cancelled = false;
                MinimizeResult outcome = default;
                try
                {
                    outcome = minimizer.Minimize(x, Objective, iterations, OnIteration);
                }
                catch (OperationCanceledException) when (cancel.IsCancellationRequested)
                {
                    cancelled = true;
                }
                // With --average-decay, x holds the moving average of Adam's iterates (IterateAveraging) and that is
                // the result: the losses seen are the raw iterates', which do not rank averages, and evaluating f at
                // the average to rank it would double the cost of every iteration.
                if (float.IsPositiveInfinity(bestLoss) || run.AverageDecay > 0) best.CopyFrom(x);
                previous = ImageTensors.ToHost(best);
                last = objective.Last;
                if (cancelled)
                {
                    observer.Message($"cancelled at scale {scale}/{run.Scales}: keeping the best image so far ({w}×{h})");
                    return new StylizeResult(Finish(previous, content, run), last, clock.Elapsed.TotalSeconds, true, reports) { Plans = plans };
                }
                if (outcome.Reason == StopReason.NonFiniteLoss)
                {
                    // The iterate left the finite range: going on would only spread NaN. Keep the best finite image.
                    string cause = run.Optimizer == OptimizerKind.Adam
                        ? $"--learning-rate {run.EffectiveLearningRate} is likely too large"
                        : run.LineSearch == LineSearch.None
                            ? "the fixed step of --line-search none diverged (try --line-search wolfe or a smaller --learning-rate)"
                            : "the loss weights or the image may be extreme";
                    string failure = $"the loss became {outcome.Loss} at scale {scale}/{run.Scales}, iteration {outcome.Iterations + 1}: {cause}.";
                    return new StylizeResult(Finish(previous, content, run), last, clock.Elapsed.TotalSeconds, false, reports, failure) { Plans = plans };
                }
                if (EarlyStop(scale, run.Scales, iterations, outcome) is { } why) observer.Message(why);
            }
        }
        return new StylizeResult(Finish(previous!, content, run), last, clock.Elapsed.TotalSeconds, false, reports) { Plans = plans };
    }

    /// <summary>Checks that need no device work; throw <see cref="StylizeUsageException"/>.</summary>
    public static void Validate(Vgg19 network, IReadOnlyList<StyleImage> styles, LossSettings loss, RunSettings run)
    {
        StyleImage.ValidateWeights(styles.Select(s => s.Weight).ToArray());
        loss.Validate();
        if (styles.Any(s => s.Mask is not null) && loss.StyleLoss != StyleLossKind.Gram)
            throw new StylizeUsageException(MasksNeedGram);
        if (styles.Any(s => s.ImageMask is not null) && loss.StyleLoss != StyleLossKind.Gram)
            throw new StylizeUsageException(ImageMasksNeedGram);
        run.Validate();
        var missing = loss.Layers.Where(l => !network.Computes(l)).ToArray();
        if (missing.Length > 0)
            throw new StylizeUsageException($"the network was built without layer(s) {string.Join(", ", missing)}: build it with LossSettings.Layers.");
    }

    /// <summary>Spatial control is built on guided Gram matrices: masks with the mean–covariance loss are refused.</summary>
    public const string MasksNeedGram = "--style-mask works with --style-loss gram only (guided Gram matrices); masks with meancov are not implemented.";

    /// <summary>Masks on the style images give guided Gram targets: with the mean–covariance loss they are refused.</summary>
    public const string ImageMasksNeedGram = "--style-image-mask works with --style-loss gram only (guided Gram targets); masks with meancov are not implemented.";

    /// <summary>The most pixels an image may have: conv1_1's 64-channel activation must stay below 2³¹ elements (32-bit indexing).</summary>
    public const long MaxPixels = int.MaxValue / 64;

    /// <summary>
    /// The style images at the last scale (long side Size × StyleScale) obey the same pixel limit as the content: a
    /// large --style-scale would otherwise overflow the long side or make an image VGG19 cannot index. So does a style
    /// image so elongated that a short side of <paramref name="minimumSide"/> (<see cref="StyleSize"/>) would make it too long.
    /// </summary>
    public static void CheckStyleSizes(IReadOnlyList<StyleImage> styles, RunSettings run, int minimumSide = 1)
    {
        double side = run.StyleSize ?? Math.Round(run.Size * (double)run.StyleScale);
        foreach (var style in styles)
        {
            double longOld = Math.Max(style.Image.Width, style.Image.Height), shortOld = Math.Min(style.Image.Width, style.Image.Height);
            double scale = side / longOld;
            double pixels = style.Image.Width * scale * (style.Image.Height * scale);
            if (side > int.MaxValue || pixels > MaxPixels)
            {
                if (run.StyleSize is int fixedSide)
                    throw new StylizeUsageException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"--style-size {fixedSide} makes a style image of {style.Image.Width}×{style.Image.Height} more than VGG19's activations can index (64 channels × {MaxPixels:N0} pixels < 2³¹); use --style-size {Math.Floor(fixedSide * Math.Sqrt(MaxPixels / pixels))} or less."));
                double fits = Math.Floor(run.StyleScale * Math.Sqrt(MaxPixels / pixels) * 1000) / 1000;
                throw new StylizeUsageException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"--style-scale {run.StyleScale} at --size {run.Size} makes a style image's long side {side:0} px: more than VGG19's activations can index (64 channels × {MaxPixels:N0} pixels < 2³¹); use --style-scale {fits} or less."));
            }
            double raised = minimumSide * longOld / shortOld; // the long side that gives the short side its minimum
            if (raised > int.MaxValue / 2 || raised * minimumSide > MaxPixels)
                throw new StylizeUsageException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"a style image of {style.Image.Width}×{style.Image.Height} is too elongated: the {minimumSide} px short side VGG19 needs makes its long side {raised:0} px, more than VGG19's activations can index; crop it."));
        }
    }

    /// <summary>
    /// A <paramref name="width"/>×<paramref name="height"/> style image's size at a scale whose style long side is
    /// <paramref name="longSide"/>: fitted to it (<see cref="ImageResizer.FitLongSideSize"/>), unless that leaves its short
    /// side under <paramref name="minimumSide"/> (<see cref="Vgg19.MinimumSide"/> of the deepest layer: a wide style at a
    /// coarse scale, or a panorama) — then the smallest long side whose short side reaches it, the aspect ratio kept. The
    /// style's statistics need every style layer, and a larger style image only samples them more finely.
    /// </summary>
    public static (int Width, int Height) StyleSize(int width, int height, int longSide, int minimumSide)
    {
        var size = ImageResizer.FitLongSideSize(width, height, longSide);
        if (Math.Min(size.Width, size.Height) >= minimumSide) return size;
        // FitLongSideSize's short side is round(short·L / long) (halves away from zero): no L below (minimum − ½)·long / short
        // reaches the minimum, so count up from there (once or twice).
        int longOld = Math.Max(width, height), shortOld = Math.Min(width, height);
        int side = Math.Max(longSide, (int)Math.Floor((minimumSide - 0.5) * longOld / shortOld));
        while (Math.Min((size = ImageResizer.FitLongSideSize(width, height, side)).Width, size.Height) < minimumSide) side++;
        return size;
    }

    /// <summary>
    /// The first scale whose image the network accepts (short side ≥ <see cref="Vgg19.MinimumSide"/>): a wide or tall
    /// image's coarse scales can be too small for the deep layers; those are skipped, said in one line. When even the
    /// last scale is too small, a <see cref="StylizeUsageException"/> names the size needed.
    /// </summary>
    public static int FirstScale(string deepestLayer, int width, int height, RunSettings run, IStylizeObserver? observer = null)
    {
        int minimum = Vgg19.MinimumSide(deepestLayer);
        var (finalW, finalH) = ImageResizer.FitLongSideSize(width, height, run.Size);
        if ((long)finalW * finalH > MaxPixels)
        {
            int fits = (int)Math.Floor(run.Size * Math.Sqrt((double)MaxPixels / ((long)finalW * finalH)));
            throw new StylizeUsageException($"--size {run.Size} makes the image {finalW}×{finalH}: more than VGG19's activations can index (64 channels × {MaxPixels:N0} pixels < 2³¹); use --size {fits} or less.");
        }
        int ShortSide(int scale)
        {
            var (w, h) = ImageResizer.FitLongSideSize(width, height, run.LongSide(scale));
            return Math.Min(w, h);
        }
        if (ShortSide(run.Scales) < minimum)
        {
            double needed = Math.Ceiling(run.Size * (double)minimum / Math.Min(finalW, finalH));
            throw new StylizeUsageException($"at --size {run.Size} the image is {finalW}×{finalH}; VGG19 up to {deepestLayer} needs a short side of at least {minimum} px: use --size {needed} or more.");
        }
        // A scale is skipped when its long side would be under 16 px or its short side under the network's minimum.
        int first = 1;
        while (run.ExactLongSide(first) < 16 || ShortSide(first) < minimum) first++;
        if (first > 1)
            observer?.Message($"scales 1–{first - 1} skipped: below 16 px, or a short side below the {minimum} px VGG19 needs up to {deepestLayer}; starting at scale {first}/{run.Scales}.");
        return first;
    }

    /// <summary>The image as it is returned: the content's colours put back when asked (values are clamped by the writer).</summary>
    private static RgbImage Finish(RgbImage image, RgbImage content, RunSettings run) =>
        ColorControlSteps.Finish(image, content, run.ColorControl);

    /// <summary>
    /// The device bytes a scale's memory plan starts from: those live now, and what the plan's kernels may still allocate
    /// (split-K's partial outputs, <see cref="SplitK.PlannedBytes"/>).
    /// </summary>
    public static long PlannedLiveBytes(Gpu gpu) => gpu.LiveBytes + SplitK.PlannedBytes(gpu);

    /// <summary>
    /// The bytes a run plans with: the device's memory (the host's for the CPU simulator) less 5 % (at least 256 MiB)
    /// for the driver and other users, lowered to <see cref="Gpu.MemoryLimitBytes"/> and <see cref="RunSettings.MaxMemoryBytes"/>
    /// when they are set (never raised by them).
    /// </summary>
    public static long BudgetBytes(Gpu gpu, RunSettings run)
    {
        long memory = gpu.Info.MemoryBytes;
        // ILGPU's CPU simulator reports no real size: it allocates from the process's memory.
        if (gpu.Kind == ILGPU.Runtime.AcceleratorType.CPU) memory = Math.Min(memory, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
        long budget = memory - Math.Max(memory / 20, 256L << 20);
        // A cap can only lower the budget: planning past the device's memory would only move the failure (on a CPU
        // OpenCL device, to the kernel's out-of-memory killer: no message at all).
        if (gpu.MemoryLimitBytes is long limit) budget = Math.Min(budget, limit);
        if (run.MaxMemoryBytes is long max) budget = Math.Min(budget, max);
        return budget;
    }

    /// <summary>
    /// The line that says why L-BFGS ended a scale before --iterations, or null when it did not: with its tolerances off
    /// (<see cref="CreateMinimizer"/>) only the evaluation budget (⌈1.25 × iterations⌉ + 1, torch.optim.LBFGS's max_eval
    /// and one more: Lbfgs.cs) and a direction that no longer goes downhill stop it. torch stops so too, silently.
    /// </summary>
    internal static string? EarlyStop(int scale, int scales, int iterations, MinimizeResult outcome)
    {
        if (outcome.Iterations >= iterations) return null;
        string? why = outcome.Reason switch
        {
            StopReason.MaxEvaluations =>
                $"its {outcome.Evaluations} evaluations (line-search trials included) spent the budget, ⌈1.25 × {iterations}⌉ + 1 = {Lbfgs.DefaultMaxEvaluations(iterations)} (torch.optim.LBFGS's max_eval)",
            StopReason.NoDescentDirection => "the search direction no longer goes downhill (the loss is at float32's resolution)",
            _ => null,
        };
        return why is null ? null : $"scale {scale}/{scales}: L-BFGS stopped after {outcome.Iterations} of {iterations} iterations: {why}.";
    }

    private static IMinimizer CreateMinimizer(Gpu gpu, Shape4 shape, RunSettings run, int history) => run.Optimizer switch
    {
        // Tolerances off, as jcjohnson/neural-style (tolX = tolFun = −1): run the requested iterations.
        OptimizerKind.Lbfgs => new Lbfgs(gpu, shape, history, run.EffectiveLearningRate, run.LineSearch,
            toleranceGradient: -1, toleranceChange: -1),
        _ when run.AverageDecay > 0 => new IterateAveraging(gpu, shape, new Adam(gpu, shape, run.EffectiveLearningRate), run.AverageDecay),
        _ => new Adam(gpu, shape, run.EffectiveLearningRate),
    };

    private sealed class NoObserver : IStylizeObserver;
}
