using IlgpuStyle.Stylize.Imaging;

namespace IlgpuStyle.Stylize;

/// <summary>
/// The image the first scale starts from (<see cref="RunSettings.Init"/>), at that scale's size. Those with noise draw
/// it from the seed on the host, so the same seed gives the same start on every device. Tests: StartImagesTests.
/// </summary>
public static class StartImages
{
    /// <summary>One 8-bit level: crowsonkb/style-transfer-pytorch's gray and style_mean add noise U[0, 1/255).</summary>
    private const float OneLevel = 1f / 255f;

    /// <summary>
    /// The start at <paramref name="width"/>×<paramref name="height"/>: <paramref name="content"/> is the content at this
    /// size, <paramref name="styles"/> the style images and their normalized blend weights.
    /// </summary>
    public static RgbImage For(RunSettings run, int width, int height, RgbImage content, IReadOnlyList<(RgbImage Image, float Weight)> styles) =>
        run.Init switch
        {
            InitKind.Content => content,
            InitKind.Noise => ImageTensors.Noise(width, height, run.Seed),
            InitKind.Style => ImageResizer.Resize(styles[0].Image, width, height),
            InitKind.Image => ImageResizer.Resize(run.InitImage!, width, height),
            InitKind.Gray => UniformAround([0.5f, 0.5f, 0.5f], OneLevel, width, height, run.Seed),
            InitKind.Uniform => UniformAround([0f, 0f, 0f], 1f, width, height, run.Seed),
            InitKind.StyleMean => UniformAround(MeanColour(styles), OneLevel, width, height, run.Seed),
            _ => throw new ArgumentOutOfRangeException(nameof(run), run.Init, "not an init kind"),
        };

    /// <summary>Each pixel of channel c: <paramref name="low"/>[c] + U[0, <paramref name="range"/>), from <paramref name="seed"/>.</summary>
    public static RgbImage UniformAround(float[] low, float range, int width, int height, int seed)
    {
        var rng = new Random(seed);
        var image = new RgbImage(width, height);
        int plane = width * height;
        for (int i = 0; i < image.Data.Length; i++)
            image.Data[i] = Math.Clamp(low[i / plane] + range * (float)rng.NextDouble(), 0f, 1f);
        return image;
    }

    /// <summary>Σ_k weight_k · (mean colour of style image k), per channel: the blend's mean colour.</summary>
    public static float[] MeanColour(IReadOnlyList<(RgbImage Image, float Weight)> styles)
    {
        var mean = new double[3];
        foreach (var (image, weight) in styles)
        {
            int plane = image.Width * image.Height;
            for (int c = 0; c < 3; c++)
            {
                double sum = 0;
                for (int i = 0; i < plane; i++) sum += image.Data[c * plane + i];
                mean[c] += weight * sum / plane;
            }
        }
        return [(float)mean[0], (float)mean[1], (float)mean[2]];
    }
}
