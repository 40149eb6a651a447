using IlgpuStyle.Autodiff;
using IlgpuStyle.Autodiff.Optimizers;

namespace IlgpuStyle.Cli.Stylize;

public enum OptimizerKind { Lbfgs, Adam }

/// <summary>Everything a stylization run needs; defaults are the CLI's defaults.</summary>
public sealed record StylizeOptions
{
    public required string ContentPath { get; init; }
    public required IReadOnlyList<string> StylePaths { get; init; }
    /// <summary>Weights of the styles' Gram targets (normalized to sum 1); null = equal.</summary>
    public IReadOnlyList<float>? StyleBlend { get; init; }
    public required string OutputPath { get; init; }

    /// <summary>Long side of the output, in pixels.</summary>
    public int Size { get; init; } = 512;
    /// <summary>Style images' long side relative to the content's at each scale.</summary>
    public float StyleScale { get; init; } = 1f;
    /// <summary>Number of sizes, coarse to fine: Size / 2^(Scales−1) … Size.</summary>
    public int Scales { get; init; } = 3;
    /// <summary>Optimizer iterations at each scale.</summary>
    public int Iterations { get; init; } = 200;

    public IReadOnlyList<string> ContentLayers { get; init; } = ["relu4_2"];
    public IReadOnlyList<string> StyleLayers { get; init; } = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"];
    public float ContentWeight { get; init; } = 5f;
    public float StyleWeight { get; init; } = 100f;
    public float TvWeight { get; init; } = 1f;

    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Lbfgs;
    public int LbfgsHistory { get; init; } = 100;
    public LineSearch LineSearch { get; init; } = LineSearch.StrongWolfe;
    /// <summary>Step size: L-BFGS's fixed step (1 by default) or Adam's learning rate.</summary>
    public float? LearningRate { get; init; }

    /// <summary>"content", "noise", "style" or an image path.</summary>
    public string Init { get; init; } = "content";
    public int Seed { get; init; } = 0;
    public PoolingKind Pooling { get; init; } = PoolingKind.Max;
    public bool OriginalColors { get; init; }

    /// <summary>Write an intermediate image every K iterations (0 = never).</summary>
    public int SaveEvery { get; init; }
    public string Device { get; init; } = "auto";
    public string? WeightsPath { get; init; }

    public float EffectiveLearningRate => LearningRate ?? (Optimizer == OptimizerKind.Adam ? 0.02f : 1f);
}
