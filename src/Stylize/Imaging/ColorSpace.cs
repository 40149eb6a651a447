namespace IlgpuStyle.Stylize.Imaging;

/// <summary>
/// RGB ↔ YCbCr, BT.601 full range as used by JPEG/JFIF, all components in 0..1 (chroma centred on ½):
/// <code>
/// Y  =  0.299    R + 0.587    G + 0.114    B
/// Cb = −0.168736 R − 0.331264 G + 0.5      B + ½     ( = ½ + (B − Y)/1.772 )
/// Cr =  0.5      R − 0.418688 G − 0.081312 B + ½     ( = ½ + (R − Y)/1.402 )
///
/// R = Y                      + 1.402    (Cr − ½)
/// G = Y − 0.344136 (Cb − ½) − 0.714136 (Cr − ½)
/// B = Y + 1.772    (Cb − ½)
/// </code>
/// (1.772 = 2(1 − 0.114), 1.402 = 2(1 − 0.299); 0.344136 = 0.114·1.772/0.587, 0.714136 = 0.299·1.402/0.587.)
/// Planar images use the layout of <see cref="RgbImage.Data"/>, with planes Y, Cb, Cr instead of R, G, B.
/// </summary>
public static class ColorSpace
{
    public static (float Y, float Cb, float Cr) RgbToYCbCr(float r, float g, float b)
    {
        float y = 0.299f * r + 0.587f * g + 0.114f * b;
        return (y, 0.5f + (b - y) / 1.772f, 0.5f + (r - y) / 1.402f);
    }

    public static (float R, float G, float B) YCbCrToRgb(float y, float cb, float cr)
    {
        float u = cb - 0.5f, v = cr - 0.5f;
        return (y + 1.402f * v, y - 0.344136f * u - 0.714136f * v, y + 1.772f * u);
    }

    /// <summary>Planar Y, Cb, Cr (3·W·H values) of an RGB image.</summary>
    public static float[] ToYCbCr(RgbImage image)
    {
        int n = image.Plane;
        var src = image.Data;
        var dst = new float[3 * n];
        for (int i = 0; i < n; i++)
            (dst[i], dst[n + i], dst[2 * n + i]) = RgbToYCbCr(src[i], src[n + i], src[2 * n + i]);
        return dst;
    }

    /// <summary>RGB image from planar Y, Cb, Cr. Not clamped: out-of-gamut combinations stay outside 0..1.</summary>
    public static RgbImage FromYCbCr(int width, int height, float[] ycbcr)
    {
        var image = new RgbImage(width, height);
        int n = image.Plane;
        if (ycbcr.Length != 3 * n)
            throw new ArgumentException($"{ycbcr.Length} values given for a 3×{height}×{width} YCbCr image.");
        var dst = image.Data;
        for (int i = 0; i < n; i++)
            (dst[i], dst[n + i], dst[2 * n + i]) = YCbCrToRgb(ycbcr[i], ycbcr[n + i], ycbcr[2 * n + i]);
        return image;
    }
}
