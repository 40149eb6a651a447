using System.Globalization;
using IlgpuStyle.Stylize.Imaging;

namespace IlgpuStyle.Stylize.Guided;

/// <summary>
/// The masks of a run with spatial control — on the content (<see cref="StyleImage.Mask"/>; the CLI's --style-mask)
/// and on the style images (<see cref="StyleImage.ImageMask"/>; --style-image-mask): the checks made before any device
/// work, and each scale's masks (resized with the content, or with their style image, by area averaging).
/// </summary>
public static class StyleMasks
{
    /// <summary>How far a mask's aspect ratio may be from the content's (relative) before it is refused rather than stretched.</summary>
    public const double AspectTolerance = 0.01;

    /// <summary>Whether the run uses masks (every style has one).</summary>
    public static bool Any(IReadOnlyList<StyleImage> styles) => styles.Any(s => s.Mask is not null);

    /// <summary>
    /// Every style has a mask or none does; each mask has the content's aspect ratio (within 1 %: any size is resized,
    /// a different shape would be stretched) and is not black everywhere (its style would apply nowhere). Throws
    /// <see cref="StylizeUsageException"/>; <paramref name="names"/> (file names, one per style) make the message.
    /// </summary>
    public static void Validate(int contentWidth, int contentHeight, IReadOnlyList<StyleImage> styles, IReadOnlyList<string>? names = null)
    {
        if (!Any(styles)) return;
        string Name(int i) => names is not null && i < names.Count ? $"'{names[i]}'" : $"{i + 1}";
        int missing = styles.Count(s => s.Mask is null);
        if (missing > 0)
            throw new StylizeUsageException($"{styles.Count - missing} style masks for {styles.Count} style images: give one mask per style image, in the same order.");
        for (int i = 0; i < styles.Count; i++)
            Check(styles[i].Mask!, $"style mask {Name(i)}", contentWidth, contentHeight, "the content", "the content's", "its style would apply nowhere");
    }

    /// <summary>
    /// Each mask on a style image (<see cref="StyleImage.ImageMask"/>; styles may have one or not) has its style image's
    /// aspect ratio (within 1 %) and is not black everywhere (the style would have no statistics). Throws
    /// <see cref="StylizeUsageException"/>; <paramref name="names"/> (mask file names) and <paramref name="styleNames"/>
    /// (style image file names), one per style, make the message.
    /// </summary>
    public static void ValidateImageMasks(IReadOnlyList<StyleImage> styles, IReadOnlyList<string>? names = null, IReadOnlyList<string>? styleNames = null)
    {
        for (int i = 0; i < styles.Count; i++)
        {
            if (styles[i].ImageMask is not { } mask) continue;
            string name = names is not null && i < names.Count ? $"'{names[i]}'" : $"{i + 1}";
            string style = styleNames is not null && i < styleNames.Count ? $"its style image '{styleNames[i]}'" : $"style image {i + 1}";
            Check(mask, $"style image mask {name}", styles[i].Image.Width, styles[i].Image.Height, style, "its style image's",
                "its style image would give no statistics");
        }
    }

    /// <summary>The aspect ratio (within <see cref="AspectTolerance"/>) and not all black; <paramref name="what"/> and <paramref name="of"/> name the mask and its image.</summary>
    private static void Check(GreyMask mask, string what, int width, int height, string of, string whose, string black)
    {
        double aspect = (double)mask.Width / mask.Height, wanted = (double)width / height;
        if (Math.Abs(aspect / wanted - 1) > AspectTolerance)
            throw new StylizeUsageException(string.Create(CultureInfo.InvariantCulture,
                $"{what} is {mask.Width}×{mask.Height} (aspect {aspect:0.###}) but {of} is {width}×{height} (aspect {wanted:0.###}): a mask must have {whose} shape (it is resized, not stretched)."));
        if (mask.Data.All(v => v == 0))
            throw new StylizeUsageException($"{what} is black everywhere: {black}.");
    }

    /// <summary>Each style image's mask at its style image's size at a scale (<paramref name="sizes"/>; null entries: none); null when no style image has one.</summary>
    public static IReadOnlyList<GreyMask?>? ImageMasksAtSize(IReadOnlyList<StyleImage> styles, IReadOnlyList<(int Width, int Height)> sizes) =>
        styles.Any(s => s.ImageMask is not null)
            ? styles.Select((s, i) => s.ImageMask?.Resize(sizes[i].Width, sizes[i].Height)).ToList()
            : null;

    /// <summary>Each style's mask at <paramref name="width"/>×<paramref name="height"/> (a scale's content size); null when the run has no masks.</summary>
    public static IReadOnlyList<GreyMask>? AtSize(IReadOnlyList<StyleImage> styles, int width, int height) =>
        Any(styles) ? styles.Select(s => s.Mask!.Resize(width, height)).ToList() : null;
}
