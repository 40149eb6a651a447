using IlgpuStyle.Stylize.Imaging;

namespace IlgpuStyle.Tests.Imaging;

/// <summary>Synthetic images and temporary directories for the imaging tests.</summary>
internal static class TestImages
{
    /// <summary>Random 8-bit levels k/255, so PNG must reproduce them exactly.</summary>
    public static RgbImage Random8Bit(int seed, int width, int height)
    {
        var rng = new Random(seed);
        var img = new RgbImage(width, height);
        for (int i = 0; i < img.Data.Length; i++) img.Data[i] = rng.Next(256) / 255f;
        return img;
    }

    /// <summary>Random values in [lo, hi].</summary>
    public static RgbImage Uniform(int seed, int width, int height, float lo = 0f, float hi = 1f) =>
        new(width, height, TestData.Uniform(seed, 3 * width * height, lo, hi));

    /// <summary>Smooth colour ramps (what JPEG is good at).</summary>
    public static RgbImage Smooth(int width, int height)
    {
        var img = new RgbImage(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                img[0, y, x] = (float)x / (width - 1);
                img[1, y, x] = (float)y / (height - 1);
                img[2, y, x] = 0.5f + 0.4f * MathF.Sin(0.1f * (x + y));
            }
        return img;
    }

    /// <summary>
    /// A grid of cols×rows solid blocks of <paramref name="block"/> pixels, every block a different colour
    /// (block-aligned solid colours survive JPEG almost exactly).
    /// </summary>
    public static RgbImage Blocks(int cols, int rows, int block)
    {
        float[] Colour(int bx, int by)
        {
            int k = by * cols + bx;
            return new[] { (k * 53 % 256) / 255f, (k * 97 % 256 + 20) % 256 / 255f, (255 - k * 37 % 256) / 255f };
        }
        var img = new RgbImage(cols * block, rows * block);
        for (int y = 0; y < img.Height; y++)
            for (int x = 0; x < img.Width; x++)
            {
                var col = Colour(x / block, y / block);
                for (int c = 0; c < 3; c++) img[c, y, x] = col[c];
            }
        return img;
    }
}
