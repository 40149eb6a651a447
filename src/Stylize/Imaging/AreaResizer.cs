namespace IlgpuStyle.Stylize.Imaging;

/// <summary>
/// Area resampling of one plane (what masks are resized with): output pixel i along an axis covers the source interval
/// [i·s, (i+1)·s), s = in/out, and is the mean of the source over it — each source pixel j weighted by the length of
/// [j, j+1) inside that interval, divided by s. Separable (rows, then columns). Unlike the cubic
/// <see cref="ImageResizer"/> it never rings or leaves [min, max] of the source, and it keeps the mean: Σ out·s = Σ in
/// along each axis, so a mask's mass (its covered fraction of the image) is the same at every scale. Upscaling gives
/// blocks with one blended pixel where a source edge falls inside an output pixel. Deterministic: each output value is
/// summed in a fixed order.
/// Test: tests/IlgpuStyle.Stylize.Tests/Stylize/MaskTests.cs.
/// </summary>
public static class AreaResizer
{
    /// <summary>The <paramref name="width"/>×<paramref name="height"/> plane <paramref name="source"/> resized to <paramref name="newWidth"/>×<paramref name="newHeight"/>.</summary>
    public static float[] Resize(float[] source, int width, int height, int newWidth, int newHeight)
    {
        if (width <= 0 || height <= 0 || newWidth <= 0 || newHeight <= 0)
            throw new ArgumentException($"Cannot resize a {width}×{height} plane to {newWidth}×{newHeight}: every side must be at least 1.");
        if (source.Length != (long)width * height)
            throw new ArgumentException($"{source.Length} values given for a {width}×{height} plane.");
        var horizontal = Taps(width, newWidth);
        var vertical = Taps(height, newHeight);
        var rows = new float[height * newWidth];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < newWidth; x++)
            {
                double acc = 0;
                foreach (var (j, w) in horizontal[x]) acc += w * source[y * width + j];
                rows[y * newWidth + x] = (float)acc;
            }
        var result = new float[newHeight * newWidth];
        for (int y = 0; y < newHeight; y++)
            for (int x = 0; x < newWidth; x++)
            {
                double acc = 0;
                foreach (var (j, w) in vertical[y]) acc += w * rows[j * newWidth + x];
                result[y * newWidth + x] = (float)acc;
            }
        return result;
    }

    /// <summary>For each output index: (source index, weight) with the weights of its interval (they sum to 1).</summary>
    private static (int Index, double Weight)[][] Taps(int inSize, int outSize)
    {
        double s = (double)inSize / outSize;
        var taps = new (int, double)[outSize][];
        for (int i = 0; i < outSize; i++)
        {
            double from = i * s, to = Math.Min(inSize, (i + 1) * s);
            int first = (int)Math.Floor(from), last = Math.Min(inSize - 1, (int)Math.Ceiling(to) - 1);
            var list = new List<(int, double)>();
            for (int j = first; j <= last; j++)
            {
                double overlap = Math.Min(to, j + 1) - Math.Max(from, j);
                if (overlap > 0) list.Add((j, overlap / (to - from)));
            }
            taps[i] = list.ToArray();
        }
        return taps;
    }
}
