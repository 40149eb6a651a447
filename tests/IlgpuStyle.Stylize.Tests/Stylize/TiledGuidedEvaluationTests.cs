using IlgpuStyle.Autodiff;
using IlgpuStyle.Bench;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Tests.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// Spatial control in the tiled evaluation: with two styles and soft, overlapping masks that leave a band uncovered,
/// the tiled loss and gradient equal the untiled ones (relative 1e-5, as TiledEvaluationTests) — the guided Gram
/// matrices summed over the tiles' own parts with the mask cut like the activations at every level, and each crop
/// seeded with its share of the gradient. VGG19 with random weights truncated at relu3_1, OpenCL, image 101×74
/// (tiles not dividing it), max and average pooling.
/// </summary>
public sealed class TiledGuidedEvaluationTests(ITestOutputHelper log)
{
    private const double Exact = 1e-5;

    [Theory]
    [InlineData(24, PoolingKind.Max)]
    [InlineData(36, PoolingKind.Avg)]
    public void TiledGuidedLossAndGradientEqualUntiled(int side, PoolingKind pooling)
    {
        var gpu = Devices.GetWithExactTiling("opencl");
        const int width = 101, height = 74;
        var settings = new LossSettings { ContentLayers = ["relu3_1"], StyleLayers = ["relu1_1", "relu2_1", "relu3_1"], TvWeight = 10f };
        using var network = new Vgg19(gpu, RandomVggWeights.Create(7), pooling, settings.Layers);
        using var content = ImageTensors.ToDevice(gpu, TestImages.Smooth(width, height));
        using var styleA = ImageTensors.ToDevice(gpu, TestImages.Uniform(5, 60, 90));
        using var styleB = ImageTensors.ToDevice(gpu, TestImages.Blocks(5, 3, 16));
        using var x = ImageTensors.ToDevice(gpu, ImageTensors.Noise(width, height, 11));
        using var gradient = gpu.Allocate(x.Shape);
        GreyMask Mask(Func<int, int, float> weight)
        {
            var data = new float[width * height];
            for (int y = 0; y < height; y++) for (int i = 0; i < width; i++) data[y * width + i] = weight(y, i);
            return new GreyMask(width, height, data);
        }
        GreyMask[] masks = [Mask((y, i) => Math.Clamp(1.3f - 2f * y / height, 0f, 1f)), Mask((y, i) => i < 60 && y > 30 ? 0.9f : 0f)];
        (LossValues, float[]) Evaluate(int? tiles)
        {
            using var loss = new GatysLoss(network, content, [(styleA, 0.6f), (styleB, 0.4f)], settings, tiles, masks);
            Assert.Equal(tiles is not null, loss.Tiles is not null);
            loss.Evaluate(x, gradient);
            log.WriteLine($"{loss.Tiles?.ToString() ?? "untiled"}: {loss.Last}");
            return (loss.Last, gradient.ToHost());
        }
        var (untiledLoss, untiled) = Evaluate(null);
        var (tiledLoss, tiled) = Evaluate(side);
        foreach (var (what, a, b) in new[] { ("content", untiledLoss.Content, tiledLoss.Content), ("style", untiledLoss.Style, tiledLoss.Style), ("tv", untiledLoss.Tv, tiledLoss.Tv) })
        {
            double error = Math.Abs(a - b) / Math.Abs(a);
            log.WriteLine($"{what} loss: untiled {a}, tiled {b}, relative {error:E2}");
            Assert.True(error <= Exact, $"{what} loss: tiled {b} vs untiled {a}");
        }
        double gradientError = Check.RelativeL2(untiled, tiled);
        log.WriteLine($"gradient: relative L2 {gradientError:E2}");
        Assert.True(gradientError <= Exact, $"gradient relative L2 {gradientError:E2} > {Exact}");
    }
}
