namespace IlgpuStyle.Stylize.Imaging;

/// <summary>
/// High-quality resizing on the host, in float32: separable convolution with the Catmull-Rom cubic
/// (Keys, a = −0.5; the kernel PIL calls BICUBIC), widened by the scale factor when shrinking so that every
/// source pixel contributes (antialiasing, as PIL and torchvision with antialias=True do).
/// <para>
/// Done here rather than with SkiaSharp's SKSamplingOptions(SKCubicResampler) because Skia's cubic sampler
/// takes a fixed 4×4 footprint, which aliases when shrinking a large style image by 4× or more, and it
/// would force a round trip through 8 bits. This code keeps full precision and gives the same bits on every
/// machine (each output value is summed in a fixed order; rows run in parallel but independently).
/// </para>
/// Results are clamped to 0..1 (the cubic overshoots slightly at hard edges).
/// </summary>
public static class ImageResizer
{
    private const double Support = 2.0; // the Catmull-Rom kernel is zero outside |x| < 2

    public static RgbImage Resize(RgbImage image, int width, int height)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentException($"Cannot resize to {width}×{height}: both sides must be at least 1.");
        if (width == image.Width && height == image.Height) return image.Clone();

        var horizontal = Taps.For(image.Width, width);
        var vertical = Taps.For(image.Height, height);

        // Pass 1: rows, Width → width. Pass 2: columns, Height → height.
        var rows = new float[3 * image.Height * width];
        Parallel.For(0, 3 * image.Height, r =>
        {
            var src = image.Data.AsSpan(r * image.Width, image.Width);
            var dst = rows.AsSpan(r * width, width);
            for (int x = 0; x < width; x++) dst[x] = horizontal.Apply(x, src, 1);
        });
        var result = new RgbImage(width, height);
        Parallel.For(0, 3 * height, r =>
        {
            int c = r / height, y = r % height;
            var src = rows.AsSpan(c * image.Height * width, image.Height * width);
            var dst = result.Data.AsSpan((c * height + y) * width, width);
            for (int x = 0; x < width; x++)
                dst[x] = Math.Clamp(vertical.Apply(y, src[x..], width), 0f, 1f);
        });
        return result;
    }

    /// <summary>
    /// Resizes so the longer side is <paramref name="longSide"/> pixels, keeping the aspect ratio; the
    /// shorter side is rounded to the nearest integer and is at least 1. Upscales too.
    /// </summary>
    public static RgbImage FitLongSide(RgbImage image, int longSide)
    {
        var (w, h) = FitLongSideSize(image.Width, image.Height, longSide);
        return Resize(image, w, h);
    }

    /// <summary>The size <see cref="FitLongSide"/> produces for a <paramref name="width"/>×<paramref name="height"/> image.</summary>
    public static (int Width, int Height) FitLongSideSize(int width, int height, int longSide)
    {
        if (longSide <= 0) throw new ArgumentException($"The long side must be at least 1 pixel, not {longSide}.");
        int Short(int shortSide, int longOld) =>
            Math.Max(1, (int)Math.Round((double)shortSide * longSide / longOld, MidpointRounding.AwayFromZero));
        return width >= height ? (longSide, Short(height, width)) : (Short(width, height), longSide);
    }

    /// <summary>Catmull-Rom: (a+2)|x|³ − (a+3)|x|² + 1 for |x| ≤ 1, a|x|³ − 5a|x|² + 8a|x| − 4a for 1 &lt; |x| &lt; 2, a = −0.5.</summary>
    private static double CatmullRom(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
        return 0;
    }

    /// <summary>For each output index: the first source index and normalized weights of its source window.</summary>
    private sealed class Taps
    {
        private readonly int[] first;
        private readonly int[] count;
        private readonly float[] weights; // stride = maxTaps
        private readonly int maxTaps;

        private Taps(int[] first, int[] count, float[] weights, int maxTaps) =>
            (this.first, this.count, this.weights, this.maxTaps) = (first, count, weights, maxTaps);

        public static Taps For(int inSize, int outSize)
        {
            double scale = (double)inSize / outSize;
            double widen = Math.Max(scale, 1.0);
            double support = Support * widen;
            int maxTaps = (int)Math.Ceiling(support) * 2 + 1;
            var first = new int[outSize];
            var count = new int[outSize];
            var weights = new float[outSize * maxTaps];
            var w = new double[maxTaps];
            for (int i = 0; i < outSize; i++)
            {
                double center = (i + 0.5) * scale; // output pixel centre in source coordinates
                int lo = Math.Max(0, (int)Math.Floor(center - support + 0.5));
                int hi = Math.Min(inSize, (int)Math.Floor(center + support + 0.5));
                double sum = 0;
                for (int j = lo; j < hi; j++) sum += w[j - lo] = CatmullRom((j + 0.5 - center) / widen);
                first[i] = lo;
                count[i] = hi - lo;
                for (int j = 0; j < hi - lo; j++) weights[i * maxTaps + j] = (float)(w[j] / sum);
            }
            return new Taps(first, count, weights, maxTaps);
        }

        /// <summary>Σⱼ weight[i][j] · src[(first[i] + j) · stride].</summary>
        public float Apply(int i, ReadOnlySpan<float> src, int stride)
        {
            float acc = 0f;
            int baseW = i * maxTaps, s = first[i] * stride;
            for (int j = 0; j < count[i]; j++, s += stride) acc += weights[baseW + j] * src[s];
            return acc;
        }
    }
}
