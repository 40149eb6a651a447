namespace IlgpuStyle.Stylize.Imaging;

/// <summary>
/// --color-control luminance (Gatys et al., "Controlling Perceptual Factors in Neural Style Transfer", CVPR 2017,
/// luminance-only transfer): the content and the style images become their luminance Y (BT.601, as
/// <see cref="ColorSpace"/>), replicated to three channels for VGG19; the style's luminance is first matched to the
/// content's mean and standard deviation,
/// <code>
///   L_s' = σ_c / σ_s · (L_s − μ_s) + μ_c
/// </code>
/// so that the style's contrast does not override the photo's; after the optimization the result's luminance is
/// recombined with the content's chroma by <see cref="OriginalColors.Apply"/>. (The paper says YIQ; YCbCr gives the
/// same RGB: both share BT.601's Y, and their chroma pairs are both linear in (R − Y, B − Y), so keeping the
/// content's I, Q or its Cb, Cr is the same constraint.)
/// </summary>
public static class LuminanceTransfer
{
    /// <summary>A style luminance with a standard deviation below this (¼ of an 8-bit level) is flat: it maps to μ_c.</summary>
    public const double Epsilon = 1e-3;

    /// <summary>Y of every pixel in all three channels: the grey image the network sees.</summary>
    public static RgbImage Gray(RgbImage image) => Replicated(image.Width, image.Height, Luma(image), 1, 0);

    /// <summary>The style's luminance matched to the content's mean and standard deviation, grey, clamped to 0..1.</summary>
    public static RgbImage MatchedStyle(RgbImage style, RgbImage content)
    {
        var ls = Luma(style);
        var (muS, sigmaS) = Statistics(ls);
        var (muC, sigmaC) = Statistics(Luma(content));
        double gain = sigmaS < Epsilon ? 0 : sigmaC / sigmaS;
        return Replicated(style.Width, style.Height, ls, gain, muC - gain * muS);
    }

    /// <summary>Mean and standard deviation (population) of a luminance plane, in double.</summary>
    public static (double Mean, double Std) Statistics(ReadOnlySpan<float> luma)
    {
        double sum = 0;
        foreach (var v in luma) sum += v;
        double mean = sum / luma.Length, squares = 0;
        foreach (var v in luma) squares += (v - mean) * (v - mean);
        return (mean, Math.Sqrt(squares / luma.Length));
    }

    /// <summary>The Y plane (W·H values) of an RGB image.</summary>
    public static float[] Luma(RgbImage image) => ColorSpace.ToYCbCr(image)[..image.Plane];

    // gain·Y + offset, clamped, in R, G and B.
    private static RgbImage Replicated(int width, int height, float[] luma, double gain, double offset)
    {
        var result = new RgbImage(width, height);
        int n = result.Plane;
        for (int p = 0; p < n; p++)
        {
            float v = (float)Math.Clamp(gain * luma[p] + offset, 0, 1);
            result.Data[p] = result.Data[n + p] = result.Data[2 * n + p] = v;
        }
        return result;
    }
}
