using System.Globalization;
using IlgpuStyle.Stylize.Imaging;

namespace IlgpuStyle.Stylize.Guided;

/// <summary>
/// The masks of a run with spatial control (<see cref="StyleImage.Mask"/>; the CLI's --style-mask): the checks made
/// before any device work, and each scale's masks (resized with the content by area averaging).
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
        {
            var mask = styles[i].Mask!;
            double aspect = (double)mask.Width / mask.Height, wanted = (double)contentWidth / contentHeight;
            if (Math.Abs(aspect / wanted - 1) > AspectTolerance)
                throw new StylizeUsageException(string.Create(CultureInfo.InvariantCulture,
                    $"style mask {Name(i)} is {mask.Width}×{mask.Height} (aspect {aspect:0.###}) but the content is {contentWidth}×{contentHeight} (aspect {wanted:0.###}): a mask must have the content's shape (it is resized, not stretched)."));
            if (mask.Data.All(v => v == 0))
                throw new StylizeUsageException($"style mask {Name(i)} is black everywhere: its style would apply nowhere.");
        }
    }

    /// <summary>Each style's mask at <paramref name="width"/>×<paramref name="height"/> (a scale's content size); null when the run has no masks.</summary>
    public static IReadOnlyList<GreyMask>? AtSize(IReadOnlyList<StyleImage> styles, int width, int height) =>
        Any(styles) ? styles.Select(s => s.Mask!.Resize(width, height)).ToList() : null;
}
