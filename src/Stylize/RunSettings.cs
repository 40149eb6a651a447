using IlgpuStyle.Autodiff.Optimizers;
using IlgpuStyle.Stylize.Imaging;

namespace IlgpuStyle.Stylize;

public enum OptimizerKind { Lbfgs, Adam }

/// <summary>Where the optimization starts: the content image, noise from the seed, the first style image, or an image.</summary>
public enum InitKind { Content, Noise, Style, Image }

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
    /// <summary>Number of sizes, coarse to fine: Size / 2^(Scales−1) … Size.</summary>
    public int Scales { get; init; } = 3;
    /// <summary>Optimizer iterations at each scale.</summary>
    public int Iterations { get; init; } = 200;
    /// <summary>Style images' long side relative to the content's at each scale.</summary>
    public float StyleScale { get; init; } = 1f;

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

    /// <summary>Long side of scale <paramref name="scale"/> (1-based): Size / 2^(Scales − scale), at least 16.</summary>
    public int LongSide(int scale) => Math.Max(16, (int)Math.Round(Size / Math.Pow(2, Scales - scale)));

    /// <summary>Checks that need no file or device; throws <see cref="StylizeUsageException"/>.</summary>
    public void Validate()
    {
        if (Size < 16) throw new StylizeUsageException($"--size {Size} is too small (at least 16).");
        if (Scales < 1) throw new StylizeUsageException("--scales must be at least 1.");
        if (Iterations < 1) throw new StylizeUsageException("--iterations must be at least 1.");
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
