using SkiaSharp;

namespace IlgpuStyle.Stylize.Imaging;

/// <summary>
/// Turns pixels as stored in the file into pixels as meant to be displayed, following the EXIF orientation tag
/// (SKCodec reports it as <see cref="SKEncodedOrigin"/>, and does not apply it while decoding). Exact: a pure
/// permutation of pixels, no resampling.
/// </summary>
public static class ExifOrientation
{
    /// <summary>
    /// The displayed image. For stored size w×h the result is w×h for origins 1–4 and h×w for 5–8. Each case
    /// gives the stored pixel S(sx, sy) shown at displayed position D(x, y):
    /// 1 TopLeft: S(x, y) · 2 TopRight: S(w−1−x, y) · 3 BottomRight: S(w−1−x, h−1−y) · 4 BottomLeft: S(x, h−1−y) ·
    /// 5 LeftTop: S(y, x) · 6 RightTop (rotate 90° clockwise): S(y, h−1−x) · 7 RightBottom: S(w−1−y, h−1−x) ·
    /// 8 LeftBottom (rotate 90° counter-clockwise): S(w−1−y, x).
    /// </summary>
    public static RgbImage Apply(RgbImage stored, SKEncodedOrigin origin)
    {
        if (origin == SKEncodedOrigin.TopLeft) return stored;
        int w = stored.Width, h = stored.Height;
        bool swaps = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop
            or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        var shown = swaps ? new RgbImage(h, w) : new RgbImage(w, h);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < shown.Height; y++)
                for (int x = 0; x < shown.Width; x++)
                {
                    var (sx, sy) = origin switch
                    {
                        SKEncodedOrigin.TopRight => (w - 1 - x, y),
                        SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y),
                        SKEncodedOrigin.BottomLeft => (x, h - 1 - y),
                        SKEncodedOrigin.LeftTop => (y, x),
                        SKEncodedOrigin.RightTop => (y, h - 1 - x),
                        SKEncodedOrigin.RightBottom => (w - 1 - y, h - 1 - x),
                        SKEncodedOrigin.LeftBottom => (w - 1 - y, x),
                        _ => (x, y), // unknown values: treat as TopLeft, as viewers do
                    };
                    shown[c, y, x] = stored[c, sy, sx];
                }
        return shown;
    }
}
