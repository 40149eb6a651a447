using IlgpuStyle.Autodiff;
using IlgpuStyle.Bench;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Guided;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Stylize.Tiling;
using IlgpuStyle.Tests.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// Masks on the style images (StyleImage.ImageMask, --style-image-mask): a style's Gram target is the guided Gram
/// matrix of its image over its mask, A_l = (F_l∘m_l)(F_l∘m_l)ᵀ / (C_l·Σm_l²) (StyleImageGrams). An all-white mask
/// gives exactly the unmasked targets and objective (with and without masks on the content); a binary mask on one half
/// of a two-colour image gives the Gram matrix of that half's feature columns (a CPU sum in double); the tiled target
/// equals the untiled one; a layer the mask does not reach has no term. Random VGG19 weights on OpenCL, small images.
/// </summary>
public sealed class StyleImageMaskTests(ITestOutputHelper log)
{
    private static readonly string[] StyleLayers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1"];

    private static GreyMask Mask(int width, int height, Func<int, int, float> weight)
    {
        var data = new float[width * height];
        for (int y = 0; y < height; y++) for (int x = 0; x < width; x++) data[y * width + x] = weight(y, x);
        return new GreyMask(width, height, data);
    }

    /// <summary>Left half (x &lt; width/2) one colour, right half another, with a little noise so no channel is constant.</summary>
    private static RgbImage TwoColours(int width, int height)
    {
        var image = new RgbImage(width, height);
        var noise = TestData.Uniform(9, 3 * width * height, -0.05f, 0.05f);
        float[][] colours = [[0.85f, 0.35f, 0.1f], [0.1f, 0.4f, 0.8f]];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    int p = c * width * height + y * width + x;
                    image.Data[p] = colours[x < width / 2 ? 0 : 1][c] + noise[p];
                }
        return image;
    }

    [Fact]
    public void AnAllWhiteImageMaskGivesExactlyTheUnmaskedTargetsAndObjective()
    {
        var gpu = Devices.Get("opencl");
        var settings = new LossSettings { ContentLayers = ["relu2_1"], StyleLayers = ["relu1_1", "relu2_1", "relu3_1"] };
        using var network = new Vgg19(gpu, RandomVggWeights.Create(3), PoolingKind.Max, settings.Layers);
        using var tape = new Tape(gpu);
        using var content = ImageTensors.ToDevice(gpu, TestImages.Smooth(44, 36));
        using var styleA = ImageTensors.ToDevice(gpu, TestImages.Uniform(5, 40, 30));
        using var styleB = ImageTensors.ToDevice(gpu, TestImages.Blocks(6, 4, 8));
        using var x = ImageTensors.ToDevice(gpu, ImageTensors.Noise(44, 36, 11));
        using var gradient = gpu.Allocate(x.Shape);

        var (plain, _) = StyleImageGrams.Compute(network, tape, styleA, null, null, settings.StyleLayers);
        var (white, unreached) = StyleImageGrams.Compute(network, tape, styleA, Mask(40, 30, (_, _) => 1f), null, settings.StyleLayers);
        Assert.Empty(unreached);
        foreach (var layer in settings.StyleLayers) Assert.Equal(plain[layer].ToHost(), white[layer].ToHost());
        foreach (var t in plain.Values.Concat(white.Values)) t.Dispose();

        GreyMask[] contentMasks = [Mask(44, 36, (y, _) => y < 18 ? 1f : 0.3f), Mask(44, 36, (_, i) => i < 20 ? 0f : 1f)];
        GreyMask?[] whiteMasks = [Mask(40, 30, (_, _) => 1f), Mask(48, 32, (_, _) => 1f)]; // at each style image's size
        foreach (var masks in new[] { null, contentMasks })
        {
            (LossValues, float[]) Evaluate(GreyMask?[]? imageMasks)
            {
                using var loss = new GatysLoss(network, content, [(styleA, 0.7f), (styleB, 0.3f)], settings, null, masks, imageMasks);
                loss.Evaluate(x, gradient);
                return (loss.Last, gradient.ToHost());
            }
            var (a, ga) = Evaluate(null);
            var (b, gb) = Evaluate(whiteMasks);
            var (c, gc) = Evaluate([null, whiteMasks[1]]);
            log.WriteLine($"{(masks is null ? "no content masks" : "content masks")}: no image masks {a}, white {b}, one white {c}");
            Assert.Equal(a, b);
            Assert.Equal(a, c);
            Assert.Equal(ga, gb);
            Assert.Equal(ga, gc);
        }
    }

    /// <summary>
    /// A binary mask on the left half of a 128×64 two-colour image: the split at x = 64 is aligned to every pooling down
    /// to relu4_1 (64/8), so the mask stays exactly 0/1 at every level and A_l must be Σ_{p in the left half} F_l(p)F_l(p)ᵀ
    /// / (C_l·|half_l|) over the full image's feature map (the half's columns near the colour boundary see across it:
    /// that is what the network computes on the style image; the Gram of the half cropped on its own differs there). As a
    /// sanity check the masked target is much nearer to the Gram of the left half cropped alone than to the right half's.
    /// </summary>
    [Fact]
    public void AMaskOnHalfATwoColourImageGivesTheGramOfThatHalf()
    {
        var gpu = Devices.Get("opencl");
        const int w = 128, h = 64;
        using var network = new Vgg19(gpu, RandomVggWeights.Create(5), PoolingKind.Max, StyleLayers);
        using var tape = new Tape(gpu);
        var picture = TwoColours(w, h);
        using var image = ImageTensors.ToDevice(gpu, picture);
        var (masked, unreached) = StyleImageGrams.Compute(network, tape, image, Mask(w, h, (_, x) => x < w / 2 ? 1f : 0f), null, StyleLayers);
        Assert.Empty(unreached);

        tape.Reset();
        var features = network.Forward(tape, tape.Constant(image), StyleLayers).ToDictionary(kv => kv.Key, kv => (kv.Value.Shape, kv.Value.Value.ToHost()));
        tape.Reset();
        var (left, _) = StyleImageGrams.Compute(network, tape, Crop(gpu, picture, 0), null, null, StyleLayers);
        var (right, _) = StyleImageGrams.Compute(network, tape, Crop(gpu, picture, w / 2), null, null, StyleLayers);
        foreach (var layer in StyleLayers)
        {
            var (shape, f) = features[layer];
            int c = shape.C, plane = shape.H * shape.W, half = shape.W / 2;
            var expected = new double[c * c];
            for (int i = 0; i < c; i++)
                for (int j = 0; j < c; j++)
                {
                    double sum = 0;
                    for (int y = 0; y < shape.H; y++)
                        for (int x = 0; x < half; x++)
                            sum += (double)f[i * plane + y * shape.W + x] * f[j * plane + y * shape.W + x];
                    expected[i * c + j] = sum / ((double)c * shape.H * half);
                }
            var actual = masked[layer].ToHost();
            double error = Check.RelativeL2(expected.Select(v => (float)v).ToArray(), actual);
            double toLeft = Check.RelativeL2(left[layer].ToHost(), actual), toRight = Check.RelativeL2(right[layer].ToHost(), actual);
            log.WriteLine($"{layer} {shape}: vs the left half's columns {error:E2}; vs the left half cropped {toLeft:E2}, the right half cropped {toRight:E2}");
            Assert.True(error <= 1e-5, $"{layer}: relative L2 {error:E2}");
            Assert.True(toLeft < 0.75 * toRight, $"{layer}: the left mask's target is not nearer the left half ({toLeft:E2} vs {toRight:E2})");
        }
        foreach (var t in masked.Values.Concat(left.Values).Concat(right.Values)) t.Dispose();
    }

    private static Tensor Crop(Gpu gpu, RgbImage image, int x0)
    {
        int w = image.Width / 2, h = image.Height;
        var half = new RgbImage(w, h);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                Array.Copy(image.Data, c * image.Plane + y * image.Width + x0, half.Data, c * half.Plane + y * w, w);
        return ImageTensors.ToDevice(gpu, half);
    }

    /// <summary>
    /// A soft mask on a 101×74 style image (tiles that do not divide it; the mask cut like the windows at every level):
    /// the tiled guided target equals the untiled one (relative L2 1e-5), and so does the whole objective, with and
    /// without masks on the content.
    /// </summary>
    [Fact]
    public void TheTiledTargetEqualsTheUntiledOne()
    {
        var gpu = Devices.Get("opencl");
        const int width = 101, height = 74;
        var settings = new LossSettings { ContentLayers = ["relu3_1"], StyleLayers = ["relu1_1", "relu2_1", "relu3_1"] };
        using var network = new Vgg19(gpu, RandomVggWeights.Create(7), PoolingKind.Max, settings.Layers);
        using var tape = new Tape(gpu);
        using var style = ImageTensors.ToDevice(gpu, TestImages.Blocks(5, 3, 20)); // 100×60: tiled too
        using var other = ImageTensors.ToDevice(gpu, TestImages.Uniform(2, width, height));
        var soft = Mask(width, height, (y, x) => Math.Clamp(1.4f - 2f * y / height, 0f, 1f) * (x % 7 == 0 ? 0.5f : 1f));
        var grid = TileGrid.Create(width, height, 24, ReceptiveField.For(network.DeepestLayer));
        Assert.False(grid.Single);
        var (untiled, _) = StyleImageGrams.Compute(network, tape, other, soft, null, settings.StyleLayers);
        var (tiled, _) = StyleImageGrams.Compute(network, tape, other, soft, grid, settings.StyleLayers);
        foreach (var layer in settings.StyleLayers)
        {
            double error = Check.RelativeL2(untiled[layer].ToHost(), tiled[layer].ToHost());
            log.WriteLine($"{layer}: tiled target vs untiled, relative L2 {error:E2}");
            Assert.True(error <= 1e-5, $"{layer}: relative L2 {error:E2}");
        }
        foreach (var t in untiled.Values.Concat(tiled.Values)) t.Dispose();

        using var content = ImageTensors.ToDevice(gpu, TestImages.Smooth(80, 56));
        using var x = ImageTensors.ToDevice(gpu, ImageTensors.Noise(80, 56, 3));
        using var gradient = gpu.Allocate(x.Shape);
        GreyMask?[] imageMasks = [Mask(100, 60, (y, i) => i < 50 ? 1f : 0.2f), soft];
        GreyMask[] contentMasks = [Mask(80, 56, (y, _) => y < 30 ? 1f : 0f), Mask(80, 56, (y, _) => y < 26 ? 0f : 0.8f)];
        foreach (var masks in new[] { null, contentMasks })
        {
            (LossValues, float[]) Evaluate(int? tiles)
            {
                using var loss = new GatysLoss(network, content, [(style, 0.5f), (other, 0.5f)], settings, tiles, masks, imageMasks);
                Assert.Equal(tiles is not null, loss.Tiles is not null);
                loss.Evaluate(x, gradient);
                return (loss.Last, gradient.ToHost());
            }
            var (a, ga) = Evaluate(null);
            var (b, gb) = Evaluate(32);
            double styleError = Math.Abs(a.Style - b.Style) / a.Style, gradientError = Check.RelativeL2(ga, gb);
            log.WriteLine($"{(masks is null ? "no content masks" : "content masks")}: style loss untiled {a.Style}, tiled {b.Style} " +
                          $"(relative {styleError:E2}); gradient relative L2 {gradientError:E2}");
            Assert.True(styleError <= 1e-5 && gradientError <= 1e-5);
        }
    }

    /// <summary>
    /// A mask only on the last row of an odd-height style image vanishes in the first pooling's floor: relu1_1 keeps a
    /// target, the deeper layers have none, and the objective stays finite (no 0/0). With a second, unmasked style the
    /// deeper layers' targets are that style's alone (its blend weight renormalised): the same as it alone gives there.
    /// </summary>
    [Fact]
    public void ALayerTheMaskDoesNotReachHasNoTerm()
    {
        var gpu = Devices.Get("opencl");
        var settings = new LossSettings { ContentLayers = ["relu2_1"], StyleLayers = ["relu1_1", "relu2_1", "relu3_1"] };
        using var network = new Vgg19(gpu, RandomVggWeights.Create(3), PoolingKind.Max, settings.Layers);
        using var tape = new Tape(gpu);
        using var style = ImageTensors.ToDevice(gpu, TestImages.Uniform(4, 45, 31));
        using var other = ImageTensors.ToDevice(gpu, TestImages.Blocks(6, 4, 8));
        var edge = Mask(45, 31, (y, _) => y == 30 ? 1f : 0f);
        var (grams, unreached) = StyleImageGrams.Compute(network, tape, style, edge, null, settings.StyleLayers);
        foreach (var t in grams.Values) t.Dispose();
        Assert.Equal(["relu2_1", "relu3_1"], unreached.Order());

        using var content = ImageTensors.ToDevice(gpu, TestImages.Smooth(40, 32));
        using var x = ImageTensors.ToDevice(gpu, ImageTensors.Noise(40, 32, 5));
        using var gradient = gpu.Allocate(x.Shape);
        LossValues Evaluate(LossSettings o, IReadOnlyList<(Tensor, float)> styles, IReadOnlyList<GreyMask?>? imageMasks)
        {
            using var loss = new GatysLoss(network, content, styles, o, null, null, imageMasks);
            loss.Evaluate(x, gradient);
            return loss.Last;
        }
        var alone = Evaluate(settings, [(style, 1f)], [edge]);
        Assert.True(float.IsFinite(alone.Style) && alone.Style > 0, $"style loss {alone.Style}");
        var shallow = settings with { StyleLayers = ["relu1_1"], StyleWeight = settings.StyleWeight / 3 };
        Assert.Equal(Evaluate(shallow, [(style, 1f)], [edge]).Style, alone.Style, 1e-6 * alone.Style);

        var deep = settings with { StyleLayers = ["relu2_1", "relu3_1"], StyleWeight = settings.StyleWeight * 2 / 3 };
        var both = Evaluate(deep, [(style, 0.4f), (other, 0.6f)], [edge, null]);
        var otherAlone = Evaluate(deep, [(other, 1f)], null);
        log.WriteLine($"edge mask alone {alone.Style}; at relu2_1, relu3_1 with another style {both.Style}, that style alone {otherAlone.Style}");
        Assert.Equal(otherAlone.Style, both.Style, 1e-6 * otherAlone.Style);
    }

    [Fact]
    public void StyleImageMasksAreCheckedAgainstTheirImageAndResizedWithIt()
    {
        StyleImage Style(int w, int h, GreyMask? mask) => new(TestImages.Smooth(w, h)) { ImageMask = mask };
        var white = (int w, int h) => Mask(w, h, (_, _) => 1f);
        // Each mask against its own style image, within 1 %; styles without one are fine.
        StyleMasks.ValidateImageMasks([Style(300, 200, white(150, 100)), Style(100, 200, null), Style(100, 200, white(51, 101))]);
        var e = Assert.Throws<StylizeUsageException>(() =>
            StyleMasks.ValidateImageMasks([Style(300, 200, white(150, 100)), Style(100, 200, white(100, 100))], ["a.png", "b.png"], ["s.jpg", "t.jpg"]));
        Assert.Contains("style image mask 'b.png' is 100×100 (aspect 1) but its style image 't.jpg' is 100×200 (aspect 0.5)", e.Message);
        e = Assert.Throws<StylizeUsageException>(() => StyleMasks.ValidateImageMasks([Style(30, 20, new GreyMask(3, 2, new float[6]))]));
        Assert.Contains("style image mask 1 is black everywhere", e.Message);

        Assert.Null(StyleMasks.ImageMasksAtSize([Style(30, 20, null)], [(15, 10)]));
        var sized = StyleMasks.ImageMasksAtSize([Style(30, 20, null), Style(30, 20, white(300, 200))], [(15, 10), (45, 30)])!;
        Assert.Null(sized[0]);
        Assert.Equal((45, 30), (sized[1]!.Width, sized[1]!.Height));
    }
}
