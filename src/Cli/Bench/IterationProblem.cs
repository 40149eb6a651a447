using IlgpuStyle.Autodiff.Optimizers;
using IlgpuStyle.Cli.Imaging;
using IlgpuStyle.Cli.Stylize;

namespace IlgpuStyle.Cli.Bench;

/// <summary>
/// The style-transfer problem the whole-iteration benchmarks solve (ours in <see cref="IterationBench"/>, libtorch's
/// in bench/TorchBaseline): square random RGB content and style images of a given side, the stylize defaults for
/// layers and loss weights (content relu4_2; style relu1_1 … relu5_1; α = 5, β = 1000, γ = 1), the image starting
/// at the content image, and L-BFGS with the fixed step (torch optim.lbfgs as jcjohnson/neural-style runs it).
/// </summary>
public static class IterationProblem
{
    public const int ContentSeed = 101;
    public const int StyleSeed = 102;

    /// <summary>Seed of a third image, the point at which the libtorch baseline compares loss values and gradients.</summary>
    public const int ProbeSeed = 103;

    /// <summary>The stylize options of the problem (paths are placeholders: the images are made, not loaded).</summary>
    public static StylizeOptions Options(int lbfgsHistory) => new()
    {
        ContentPath = "random",
        StylePaths = ["random"],
        OutputPath = "bench.png",
        Scales = 1,
        Optimizer = OptimizerKind.Lbfgs,
        LbfgsHistory = lbfgsHistory,
        LineSearch = LineSearch.None,
    };

    /// <summary>Every layer the loss reads (content and style), for building the network.</summary>
    public static IEnumerable<string> Layers(StylizeOptions o) => o.ContentLayers.Concat(o.StyleLayers).Distinct();

    /// <summary>A size×size image with values uniform in [0, 1), from <paramref name="seed"/> (System.Random: reproducible).</summary>
    public static RgbImage RandomImage(int size, int seed)
    {
        var rng = new Random(seed);
        var image = new RgbImage(size, size);
        for (int i = 0; i < image.Data.Length; i++) image.Data[i] = (float)rng.NextDouble();
        return image;
    }
}
