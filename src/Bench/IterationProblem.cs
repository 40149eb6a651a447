using IlgpuStyle.Autodiff;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Imaging;

namespace IlgpuStyle.Bench;

/// <summary>
/// The style-transfer problem the whole-iteration benchmarks solve (ours in <see cref="IterationBench"/>, libtorch's
/// in bench/TorchBaseline): square random RGB content and style images of a given side, the stylize defaults for
/// layers and loss weights (content relu4_2; style relu1_1 … relu5_1; α = 5, β = 100, γ = 1), the image starting
/// at the content image, and L-BFGS with the fixed step (torch optim.lbfgs as jcjohnson/neural-style runs it).
/// </summary>
public static class IterationProblem
{
    public const int ContentSeed = 101;
    public const int StyleSeed = 102;

    /// <summary>Seed of a third image, the point at which the libtorch baseline compares loss values and gradients.</summary>
    public const int ProbeSeed = 103;

    /// <summary>The loss of the problem: the stylize defaults.</summary>
    public static readonly LossSettings Loss = new();

    /// <summary>The pooling of the problem: the stylize default.</summary>
    public const PoolingKind Pooling = PoolingKind.Max;

    /// <summary>L-BFGS's fixed step.</summary>
    public const float LearningRate = 1f;

    /// <summary>A size×size image with values uniform in [0, 1), from <paramref name="seed"/> (System.Random: reproducible).</summary>
    public static RgbImage RandomImage(int size, int seed) => RandomImage(size, size, seed);

    /// <summary>A width×height image with values uniform in [0, 1), from <paramref name="seed"/>.</summary>
    public static RgbImage RandomImage(int width, int height, int seed)
    {
        var rng = new Random(seed);
        var image = new RgbImage(width, height);
        for (int i = 0; i < image.Data.Length; i++) image.Data[i] = (float)rng.NextDouble();
        return image;
    }
}
