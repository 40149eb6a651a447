using IlgpuStyle.Stylize.Imaging;

namespace IlgpuStyle.Stylize;

/// <summary>
/// What <see cref="RunSettings.ColorControl"/> changes in a run: the images the optimization sees (before the scale
/// loop) and the image returned (<see cref="Finish"/>, also for snapshots). Host-side; the images are small and each
/// step is one pass over the pixels (the time is said in the run's log).
/// </summary>
internal static class ColorControlSteps
{
    /// <summary>The content as the optimization sees it: its luminance for Luminance, else itself.</summary>
    public static RgbImage Content(RgbImage content, ColorControl mode) =>
        mode == ColorControl.Luminance ? LuminanceTransfer.Gray(content) : content;

    /// <summary>Style images as the optimization sees them: luminance matched to the content's, or colours mapped to the content's.</summary>
    public static IReadOnlyList<StyleImage> Styles(IReadOnlyList<StyleImage> styles, RgbImage content, ColorControl mode) => mode switch
    {
        ColorControl.Luminance => styles.Select(s => s with { Image = LuminanceTransfer.MatchedStyle(s.Image, content) }).ToList(),
        ColorControl.Histogram => styles.Select(s => s with { Image = ColorHistogramMatch.Apply(s.Image, content) }).ToList(),
        _ => styles,
    };

    /// <summary>An --init image in the space the optimization runs in (its luminance for Luminance).</summary>
    public static RunSettings Init(RunSettings run) =>
        run is { ColorControl: ColorControl.Luminance, InitImage: { } init } ? run with { InitImage = LuminanceTransfer.Gray(init) } : run;

    /// <summary>The image as it is returned: the result's luminance with the content's chroma for Original and Luminance.</summary>
    public static RgbImage Finish(RgbImage image, RgbImage content, ColorControl mode) =>
        mode is ColorControl.Original or ColorControl.Luminance ? OriginalColors.Apply(image, content) : image;
}
