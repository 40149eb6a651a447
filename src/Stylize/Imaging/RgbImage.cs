namespace IlgpuStyle.Stylize.Imaging;

/// <summary>
/// An RGB image on the host: planar float32, channel-major (all of R, then all of G, then all of B; each plane
/// row-major H×W), values nominally in 0..1. This is the layout of a 1×3×H×W NCHW tensor, so
/// <see cref="Data"/> can be copied to the device as is.
/// </summary>
public sealed class RgbImage
{
    public RgbImage(int width, int height) : this(width, height, new float[checked(3 * width * height)]) { }

    public RgbImage(int width, int height, float[] data)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentException($"Image size {width}×{height} has a non-positive side.");
        if (data.Length != checked(3 * width * height))
            throw new ArgumentException($"{data.Length} values given for a 3×{height}×{width} image ({3 * width * height} values).");
        Width = width;
        Height = height;
        Data = data;
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>3·Height·Width values: R plane, G plane, B plane.</summary>
    public float[] Data { get; }

    /// <summary>Width·Height, the size of one channel plane.</summary>
    public int Plane => Width * Height;

    /// <summary>Value of channel <paramref name="c"/> (0 = R, 1 = G, 2 = B) at column x, row y.</summary>
    public float this[int c, int y, int x]
    {
        get => Data[c * Plane + y * Width + x];
        set => Data[c * Plane + y * Width + x] = value;
    }

    public RgbImage Clone() => new(Width, Height, (float[])Data.Clone());

    public override string ToString() => $"RgbImage {Width}×{Height}";
}
