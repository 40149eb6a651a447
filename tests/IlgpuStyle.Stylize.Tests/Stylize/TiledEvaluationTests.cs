using IlgpuStyle.Autodiff;
using IlgpuStyle.Bench;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize;
using IlgpuStyle.Tests.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// Issue #12: the tiled evaluation gives the untiled loss and gradient (relative L2 ≤ 1e-5), for several tile sizes —
/// most not dividing the image — with max and average pooling; and it is the halo that makes it exact: one alignment
/// step less and the gradient (or the loss) is measurably wrong; the same equality for --style-loss meancov. VGG19 with random weights, truncated: relu2_1 on the
/// CPU simulator, relu3_1 and relu4_1 on OpenCL. On devices running Winograd as F(2×2, 3×3) (<see cref="Devices.GetWithExactTiling"/>).
/// </summary>
public sealed class TiledEvaluationTests(ITestOutputHelper log)
{
    private const double Exact = 1e-5;

    public static TheoryData<string, string, int, PoolingKind> Cases()
    {
        // The CPU simulator is slow (25–55 s per case, minutes under load): one case there, the rest on OpenCL.
        return new TheoryData<string, string, int, PoolingKind>
        {
            { "cpu", "relu2_1", 22, PoolingKind.Avg },
            { "opencl", "relu2_1", 8, PoolingKind.Max },
            { "opencl", "relu3_1", 16, PoolingKind.Max },
            { "opencl", "relu3_1", 16, PoolingKind.Avg },
            { "opencl", "relu3_1", 36, PoolingKind.Max },
            { "opencl", "relu3_1", 44, PoolingKind.Avg },
            { "opencl", "relu4_1", 40, PoolingKind.Max },
        };
    }

    /// <summary>(width, height) of the content per depth: several tiles each way with crops smaller than the image.</summary>
    private static (int W, int H) Size(string deepest) => deepest switch
    {
        "relu2_1" => (45, 31),
        "relu3_1" => (101, 74),
        _ => (213, 170),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TiledLossAndGradientEqualUntiled(string device, string deepest, int side, PoolingKind pooling)
    {
        var gpu = Devices.GetWithExactTiling(device);
        using var problem = new Problem(gpu, deepest, pooling);
        AssertTiledEqualsUntiled(problem, side, $"{device} {deepest} {pooling}");
    }

    /// <summary>Every loss term and the gradient of the tiled evaluation (tiles ≤ <paramref name="side"/>) equal the untiled ones.</summary>
    private void AssertTiledEqualsUntiled(Problem problem, int side, string label, bool styleMustBePositive = false)
    {
        var (untiledLoss, untiled) = problem.Evaluate(null, null);
        var (tiledLoss, tiled) = problem.Evaluate(side, null);
        log.WriteLine($"{label}, {problem.Width}×{problem.Height}, tiles ≤ {side} ({problem.LastGrid}): " +
                      $"untiled {untiledLoss}, tiled {tiledLoss}");
        if (styleMustBePositive) Assert.True(untiledLoss.Style > 0, $"style loss {untiledLoss.Style}");
        AssertClose(untiledLoss.Content, tiledLoss.Content, "content loss");
        AssertClose(untiledLoss.Style, tiledLoss.Style, "style loss");
        AssertClose(untiledLoss.Tv, tiledLoss.Tv, "tv loss");
        double gradientError = Check.RelativeL2(untiled, tiled);
        log.WriteLine($"gradient: relative L2 {gradientError:E2}, max |Δ| {MaxAbs(untiled, tiled):E2} (‖g‖∞ {untiled.Max(Math.Abs):E2})");
        Assert.True(gradientError <= Exact, $"gradient relative L2 {gradientError:E2} > {Exact}");
    }

    /// <summary>
    /// --style-loss meancov: the tiled pass sums raw moments over tiles and seeds each tile with
    /// (1/N)((dS + dSᵀ)F_t + dμ1ᵀ) from the whole image's dS, dμ; loss and gradient equal the untiled ones.
    /// Relu2_1 only (3×2 tiles of a 45×31 image; a relu3_1 case costs CI tens of seconds more for the same check).
    /// </summary>
    [Theory]
    [InlineData("opencl", "relu2_1", 22)]
    public void MeanCovTiledLossAndGradientEqualUntiled(string device, string deepest, int side)
    {
        var gpu = Devices.GetWithExactTiling(device);
        using var problem = new Problem(gpu, deepest, PoolingKind.Max, StyleLossKind.MeanCov);
        AssertTiledEqualsUntiled(problem, side, $"meancov {device} {deepest}", styleMustBePositive: true);
    }

    /// <summary>
    /// The test can fail: a gradient halo one alignment step short leaves wrong values near the seams. A property of the
    /// halo arithmetic, not of a device: it runs on OpenCL only (on the CPU simulator its many small tiles took 94 s of
    /// CI for the same evidence); the equality tests above keep their CPU-simulator cases.
    /// </summary>
    [Theory]
    [InlineData("opencl", "relu3_1", 16)]
    public void AHaloOneStepShortIsNotExact(string device, string deepest, int side)
    {
        var gpu = Devices.GetWithExactTiling(device);
        using var problem = new Problem(gpu, deepest, PoolingKind.Max);
        var halo = ReceptiveField.For(deepest);
        var (untiledLoss, untiled) = problem.Evaluate(null, null);
        var (_, shortGradient) = problem.Evaluate(side, halo with { Gradient = halo.Gradient - halo.Alignment });
        double gradientError = Check.RelativeL2(untiled, shortGradient);
        var (shortLoss, _) = problem.Evaluate(side, halo with { Forward = halo.Forward - halo.Alignment });
        double lossError = Math.Abs(shortLoss.Style - untiledLoss.Style) / untiledLoss.Style +
                           Math.Abs(shortLoss.Content - untiledLoss.Content) / untiledLoss.Content;
        log.WriteLine($"{device} {deepest}: gradient halo {halo.Gradient - halo.Alignment}: relative L2 {gradientError:E2}; " +
                      $"forward halo {halo.Forward - halo.Alignment}: loss error {lossError:E2}");
        Assert.True(gradientError > 10 * Exact, $"a short gradient halo gave relative L2 {gradientError:E2}");
        Assert.True(lossError > 10 * Exact, $"a short forward halo gave loss error {lossError:E2}");
    }

    private void AssertClose(float expected, float actual, string what)
    {
        double error = Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), 1e-30);
        log.WriteLine($"{what}: {expected} vs {actual}, relative {error:E2}");
        Assert.True(error <= Exact, $"{what}: tiled {actual} vs untiled {expected} (relative {error:E2})");
    }

    private static double MaxAbs(float[] a, float[] b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();

    /// <summary>Content, style and start image (noise) for a truncated random VGG19; evaluations with and without tiles.</summary>
    private sealed class Problem : IDisposable
    {
        private readonly Vgg19 network;
        private readonly Tensor content, styleImage, x, gradient;
        private readonly LossSettings settings;

        public Problem(Gpu gpu, string deepest, PoolingKind pooling, StyleLossKind styleLoss = StyleLossKind.Gram)
        {
            (Width, Height) = Size(deepest);
            var styleLayers = Vgg19.LayerNames.Where(n => n.StartsWith("relu", StringComparison.Ordinal) && n.EndsWith("_1", StringComparison.Ordinal))
                .TakeWhile(n => Vgg19.LayerIndex(n) <= Vgg19.LayerIndex(deepest)).ToArray();
            settings = new LossSettings { ContentLayers = [deepest], StyleLayers = styleLayers, TvWeight = 10f, StyleLoss = styleLoss };
            network = new Vgg19(gpu, RandomVggWeights.Create(7), pooling, settings.Layers);
            content = ImageTensors.ToDevice(gpu, TestImages.Smooth(Width, Height));
            // A style image of another size than the content: its Gram targets are tiled on their own grid.
            styleImage = ImageTensors.ToDevice(gpu, TestImages.Uniform(5, Width * 3 / 4, Height * 5 / 4));
            x = ImageTensors.ToDevice(gpu, ImageTensors.Noise(Width, Height, 11));
            gradient = gpu.Allocate(x.Shape);
        }

        public int Width { get; }
        public int Height { get; }
        public string LastGrid { get; private set; } = "";

        public (LossValues Loss, float[] Gradient) Evaluate(int? side, TileHalo? halo)
        {
            using var loss = halo is { } h
                ? new GatysLoss(network, content, [(styleImage, 1f)], settings, side, h)
                : new GatysLoss(network, content, [(styleImage, 1f)], settings, side);
            if (side is not null) Assert.NotNull(loss.Tiles);
            LastGrid = loss.Tiles?.ToString() ?? "untiled";
            loss.Evaluate(x, gradient);
            return (loss.Last, gradient.ToHost());
        }

        public void Dispose()
        {
            network.Dispose();
            content.Dispose();
            styleImage.Dispose();
            x.Dispose();
            gradient.Dispose();
        }
    }
}
