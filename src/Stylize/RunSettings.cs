using IlgpuStyle.Autodiff.Optimizers;
using IlgpuStyle.Stylize.Imaging;

namespace IlgpuStyle.Stylize;

public enum OptimizerKind { Lbfgs, Adam }

/// <summary>
/// Where the optimization starts: the content image, Gaussian noise around mid-grey N(0.5, 0.15²), the first style
/// image, an image, or crowsonkb/style-transfer-pytorch's three: Gray, mid-grey plus uniform noise of one 8-bit level
/// (0.5 + U[0, 1/255)); Uniform, noise U[0, 1); StyleMean, the styles' blended mean colour plus the same one-level noise.
/// The noise comes from the seed.
/// </summary>
public enum InitKind { Content, Noise, Style, Image, Gray, Uniform, StyleMean }

/// <summary>
/// Colour control (Gatys et al., "Controlling Perceptual Factors in Neural Style Transfer", CVPR 2017): None, the
/// style's colours; Original, the result's luminance with the content's chroma (<see cref="OriginalColors"/>);
/// Luminance, stylize the luminance only, then the content's chroma (<see cref="LuminanceTransfer"/>); Histogram,
/// each style image's colours mapped to the content's mean and covariance first (<see cref="ColorHistogramMatch"/>).
/// </summary>
public enum ColorControl { None, Original, Luminance, Histogram }

/// <summary>How a stylization runs (<see cref="Stylizer"/>): sizes, scales, optimizer, start. Defaults are the CLI's.</summary>
public sealed record RunSettings
{
    /// <summary>Long side of the output, in pixels.</summary>
    public int Size { get; init; } = 512;
    /// <summary>Number of sizes, coarse to fine, each <see cref="ScalesPerOctave"/>-th root of 2 times the previous: <see cref="LongSide"/>.</summary>
    public int Scales { get; init; } = 3;
    /// <summary>
    /// Scales per doubling of the long side: 1 (the default) doubles it from one scale to the next; 2 grows it by √2,
    /// as crowsonkb/style-transfer-pytorch does (its 128 → 512 px: 128, 181, 256, 362, 512).
    /// </summary>
    public int ScalesPerOctave { get; init; } = 1;
    /// <summary>Optimizer iterations at each scale.</summary>
    public int Iterations { get; init; } = 200;
    /// <summary>Iterations at the first scale run (null: <see cref="Iterations"/>); crowsonkb's initial_iterations.</summary>
    public int? InitialIterations { get; init; }
    /// <summary>Style images' long side relative to the content's at each scale.</summary>
    public float StyleScale { get; init; } = 1f;
    /// <summary>
    /// Style images' long side in pixels at every scale, whatever the content's (null: the content's long side ×
    /// <see cref="StyleScale"/>); crowsonkb's style_size.
    /// </summary>
    public int? StyleSize { get; init; }

    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Lbfgs;
    public int LbfgsHistory { get; init; } = 100;
    public LineSearch LineSearch { get; init; } = LineSearch.StrongWolfe;
    /// <summary>Step size: L-BFGS's fixed step (1 by default) or Adam's learning rate (0.02 by default).</summary>
    public float? LearningRate { get; init; }

    public InitKind Init { get; init; } = InitKind.Content;
    /// <summary>The start image when <see cref="Init"/> is <see cref="InitKind.Image"/> (resized to each scale).</summary>
    public RgbImage? InitImage { get; init; }
    public int Seed { get; init; }
    /// <summary>Whose colours the result has (<see cref="Stylize.ColorControl"/>); the CLI's --color-control.</summary>
    public ColorControl ColorControl { get; init; } = ColorControl.None;

    /// <summary>
    /// Adam only: the result is the exponential moving average of the iterates with this decay D (0 = off), bias
    /// corrected as Adam's moments: avg ← D·avg + (1−D)·x, image = avg / (1 − Dᵗ) (<see cref="IterateAveraging"/>).
    /// </summary>
    public float AverageDecay { get; init; }

    /// <summary>
    /// Device memory the run may plan with, in bytes: lowers the budget (the device's memory less a margin, or
    /// <see cref="Kernels.Gpu.MemoryLimitBytes"/>), never raises it (null: no further limit). Each scale runs untiled when it fits, else in tiles, with the L-BFGS
    /// history cut to fit (<see cref="Tiling.MemoryPlanner"/>). It plans; <see cref="Kernels.Gpu.MemoryLimitBytes"/> enforces.
    /// </summary>
    public long? MaxMemoryBytes { get; init; }

    /// <summary>Evaluate in tiles of at most this many pixels a side whatever the budget (null: the planner decides).</summary>
    public int? TileSide { get; init; }

    /// <summary>Hand the observer a snapshot of the image every K iterations (0 = never).</summary>
    public int SnapshotEvery { get; init; }

    public float EffectiveLearningRate => LearningRate ?? (Optimizer == OptimizerKind.Adam ? 0.02f : 1f);

    /// <summary>
    /// Long side of scale <paramref name="scale"/> (1-based): <see cref="ExactLongSide"/> rounded, halves to even as
    /// Python's round (with 2 scales per octave the sizes are crowsonkb's gen_scales' round(end / 2^(i/2))), at least 16.
    /// </summary>
    public int LongSide(int scale) => Math.Max(16, (int)Math.Round(ExactLongSide(scale), MidpointRounding.ToEven));

    /// <summary>
    /// Size / 2^((Scales − scale) / ScalesPerOctave), before rounding: a scale under 16 px is skipped by this
    /// (<see cref="Stylizer.FirstScale"/>).
    /// </summary>
    public double ExactLongSide(int scale) => Below(Size, Scales - scale, ScalesPerOctave);

    /// <summary>The number of scales from <paramref name="minSide"/> up to <paramref name="size"/>: those whose long side is at least <paramref name="minSide"/> (crowsonkb's gen_scales(min_scale, end_scale); at least 1).</summary>
    public static int ScalesFrom(int minSide, int size, int scalesPerOctave)
    {
        int scales = 1;
        while (scales < 64 && Math.Round(Below(size, scales, scalesPerOctave), MidpointRounding.ToEven) >= minSide) scales++;
        return scales;
    }

    /// <summary>The long side <paramref name="steps"/> scales below <paramref name="size"/>: size / 2^(steps / scalesPerOctave).</summary>
    private static double Below(int size, int steps, int scalesPerOctave) => size / Math.Pow(2, steps / (double)scalesPerOctave);

    /// <summary>Iterations at scale <paramref name="scale"/> when the run starts at <paramref name="firstScale"/> (<see cref="InitialIterations"/> there).</summary>
    public int IterationsAt(int scale, int firstScale) => scale == firstScale ? InitialIterations ?? Iterations : Iterations;

    /// <summary>The style images' long side at a scale whose content long side is <paramref name="longSide"/> (before the network's minimum raises it).</summary>
    public int StyleLongSide(int longSide) => StyleSize ?? Math.Max(16, (int)Math.Round(longSide * StyleScale));

    /// <summary>Checks that need no file or device; throws <see cref="StylizeUsageException"/>.</summary>
    public void Validate()
    {
        if (Size < 16) throw new StylizeUsageException($"--size {Size} is too small (at least 16).");
        if (Scales < 1) throw new StylizeUsageException("--scales must be at least 1.");
        if (Iterations < 1) throw new StylizeUsageException("--iterations must be at least 1.");
        if (InitialIterations is < 1) throw new StylizeUsageException($"--initial-iterations {InitialIterations} must be at least 1.");
        if (ScalesPerOctave is < 1 or > 8) throw new StylizeUsageException($"--scales-per-octave {ScalesPerOctave} must be 1 to 8.");
        if (StyleSize is < 16) throw new StylizeUsageException($"--style-size {StyleSize} is too small (at least 16).");
        if (!(StyleScale > 0) || !float.IsFinite(StyleScale)) throw new StylizeUsageException("--style-scale must be a finite number > 0.");
        if (LbfgsHistory < 1) throw new StylizeUsageException("--lbfgs-history must be at least 1.");
        if (LearningRate is { } lr && (!float.IsFinite(lr) || lr <= 0))
            throw new StylizeUsageException($"--learning-rate {lr} must be a finite number > 0.");
        if (Init == InitKind.Image && InitImage is null)
            throw new StylizeUsageException("--init: an image is required for InitKind.Image.");
        if (SnapshotEvery < 0) throw new StylizeUsageException("--save-every must be ≥ 0.");
        if (MaxMemoryBytes is <= 0) throw new StylizeUsageException($"--max-memory {MaxMemoryBytes} must be > 0 bytes.");
        if (TileSide is < 16) throw new StylizeUsageException($"--tile-size {TileSide} is too small (at least 16).");
        if (!Enum.IsDefined(ColorControl)) throw new StylizeUsageException($"--color-control {(int)ColorControl} is not a colour control.");
        if (!(AverageDecay >= 0 && AverageDecay < 1))
            throw new StylizeUsageException($"--average-decay {AverageDecay} must be a number in [0, 1).");
        if (AverageDecay > 0 && Optimizer != OptimizerKind.Adam)
            throw new StylizeUsageException("--average-decay applies to --optimizer adam only: L-BFGS converges to a point, and averaging its iterates would only lag behind it.");
    }
}

/// <summary>A style image and the weight of its Gram targets in the blend (weights are normalized to sum 1).</summary>
public sealed record StyleImage(RgbImage Image, float Weight = 1f)
{
    /// <summary>
    /// Where on the content this style applies (spatial control, <see cref="Guided.GuidedStyleTerms"/>): grey = weight,
    /// any size with the content's aspect ratio. Null: everywhere (then no style may have one).
    /// </summary>
    public GreyMask? Mask { get; init; }

    /// <summary>
    /// Where on the style image its statistics come from: its Gram targets are the guided Gram matrices of the image
    /// over this mask (<see cref="Guided.StyleImageGrams"/>), grey = weight, any size with the style image's aspect
    /// ratio (resized with it at every scale). Null: the whole image. Works with or without <see cref="Mask"/>; with
    /// the Gram style loss only.
    /// </summary>
    public GreyMask? ImageMask { get; init; }

    /// <summary>At least one style; blend weights finite, ≥ 0 and not all 0. Throws <see cref="StylizeUsageException"/>.</summary>
    public static void ValidateWeights(IReadOnlyList<float> weights)
    {
        if (weights.Count == 0) throw new StylizeUsageException("at least one --style image is required.");
        if (weights.Any(v => v < 0 || !float.IsFinite(v)) || weights.Sum() <= 0)
            throw new StylizeUsageException("--style-blend values must be ≥ 0 and not all 0.");
    }
}

/// <summary>A bad combination of options.</summary>
public sealed class StylizeUsageException(string message) : Exception(message);
