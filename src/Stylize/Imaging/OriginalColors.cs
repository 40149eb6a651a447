namespace IlgpuStyle.Stylize.Imaging;

/// <summary>
/// --original-colors: keep the content image's colours and take only the luminance from the stylized result
/// (as jcjohnson/neural-style's -original_colors 1): Y from <c>stylized</c>, Cb and Cr from <c>content</c>
/// (<see cref="ColorSpace"/>), then back to RGB clamped to 0..1.
/// </summary>
public static class OriginalColors
{
    /// <summary>
    /// A new image the size of <paramref name="stylized"/>. <paramref name="content"/> is resized
    /// (<see cref="ImageResizer"/>) when its size differs.
    /// </summary>
    public static RgbImage Apply(RgbImage stylized, RgbImage content)
    {
        if (content.Width != stylized.Width || content.Height != stylized.Height)
            content = ImageResizer.Resize(content, stylized.Width, stylized.Height);
        var luma = ColorSpace.ToYCbCr(stylized);
        var chroma = ColorSpace.ToYCbCr(content);
        int n = stylized.Plane;
        Array.Copy(chroma, n, luma, n, 2 * n); // keep Y of stylized, take Cb and Cr of content
        var result = ColorSpace.FromYCbCr(stylized.Width, stylized.Height, luma);
        var d = result.Data;
        for (int i = 0; i < d.Length; i++) d[i] = Math.Clamp(d[i], 0f, 1f);
        return result;
    }
}
