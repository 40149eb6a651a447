namespace IlgpuStyle.Stylize.Imaging;

/// <summary>
/// A spatial mask on the host: one weight in [0, 1] per pixel, row-major H×W (the layout of a 1×1×H×W tensor). Read
/// from any image the <see cref="ImageLoader"/> reads: grey levels are the weights (black 0, white 1); a colour image
/// counts by its luminance Y = 0.299 R + 0.587 G + 0.114 B (BT.601), and transparent pixels are white (alpha is
/// composited over white by the loader).
/// </summary>
public sealed class GreyMask
{
    public GreyMask(int width, int height, float[] data)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentException($"Mask size {width}×{height} has a non-positive side.");
        if (data.Length != checked(width * height))
            throw new ArgumentException($"{data.Length} values given for a {width}×{height} mask ({width * height} values).");
        Width = width;
        Height = height;
        Data = data;
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>Width·Height weights, row-major.</summary>
    public float[] Data { get; }

    public float this[int y, int x] => Data[y * Width + x];

    /// <summary>The weights of <paramref name="image"/>: its grey level where R = G = B (exactly), else its luminance, clamped to 0..1.</summary>
    public static GreyMask FromImage(RgbImage image)
    {
        var data = new float[image.Plane];
        var d = image.Data;
        int n = image.Plane;
        for (int p = 0; p < n; p++)
        {
            float r = d[p], g = d[n + p], b = d[2 * n + p];
            float y = r == g && g == b ? r : ColorSpace.RgbToYCbCr(r, g, b).Y;
            data[p] = Math.Clamp(y, 0f, 1f);
        }
        return new GreyMask(image.Width, image.Height, data);
    }

    /// <summary>Loads a mask from a JPEG, PNG or WebP file (errors: <see cref="ImageLoadException"/>, as for images).</summary>
    public static GreyMask Load(string path) => FromImage(ImageLoader.Load(path));

    /// <summary>The mask resized to <paramref name="width"/>×<paramref name="height"/> by area averaging (<see cref="AreaResizer"/>).</summary>
    public GreyMask Resize(int width, int height) =>
        width == Width && height == Height ? new GreyMask(width, height, (float[])Data.Clone())
            : new GreyMask(width, height, AreaResizer.Resize(Data, Width, Height, width, height));

    /// <summary>The mask as an image (grey in all three channels): to save or show it.</summary>
    public RgbImage ToImage()
    {
        var image = new RgbImage(Width, Height);
        for (int c = 0; c < 3; c++) Data.CopyTo(image.Data, c * Data.Length);
        return image;
    }

    public override string ToString() => $"GreyMask {Width}×{Height}";
}
