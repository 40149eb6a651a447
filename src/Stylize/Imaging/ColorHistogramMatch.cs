namespace IlgpuStyle.Stylize.Imaging;

/// <summary>
/// --color-control histogram (Gatys et al., "Controlling Perceptual Factors in Neural Style Transfer", CVPR 2017,
/// colour histogram matching): a style image's colours are moved to the content image's colour distribution by a
/// linear map in RGB that matches mean and covariance, before stylizing:
/// <code>
///   x' = A (x − μ_s) + μ_c,     A = Σ_c^½ Σ_s^−½
/// </code>
/// with μ, Σ the mean and 3×3 covariance of the pixels' RGB vectors. The roots are the symmetric ones
/// (Σ = VΛVᵀ ⇒ Σ^±½ = VΛ^±½Vᵀ, <see cref="SymmetricEigen3"/>): the paper's "image analogies" variant, not the
/// Cholesky one (A = L_c L_s⁻¹). Either way A Σ_s Aᵀ = Σ_c^½ Σ_s^−½ Σ_s Σ_s^−½ Σ_c^½ = Σ_c, so the mapped style has
/// the content's mean and covariance. A flat or rank-deficient style (eigenvalue of Σ_s below
/// <see cref="Epsilon"/>) gets that eigenvalue raised to ε before the inverse root: its pixels have no spread in that
/// direction, so they land on the content's mean there instead of being divided by ~0. Output clamped to 0..1 (a
/// mapped colour can leave the RGB cube).
/// </summary>
public static class ColorHistogramMatch
{
    /// <summary>Smallest style variance inverted (std ≈ 0.003, under one 8-bit level: below it a direction is quantization noise).</summary>
    public const double Epsilon = 1e-5;

    /// <summary>A new image: <paramref name="style"/> with the colour mean and covariance of <paramref name="content"/>.</summary>
    public static RgbImage Apply(RgbImage style, RgbImage content)
    {
        var (muS, sigmaS) = Statistics(style);
        var (muC, sigmaC) = Statistics(content);
        var rootC = SymmetricEigen3.Function(sigmaC, l => Math.Sqrt(Math.Max(l, 0)));
        var invRootS = SymmetricEigen3.Function(sigmaS, l => 1 / Math.Sqrt(Math.Max(l, Epsilon)));
        var a = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 3; k++) a[i, j] += rootC[i, k] * invRootS[k, j];

        int n = style.Plane;
        var src = style.Data;
        var result = new RgbImage(style.Width, style.Height);
        var dst = result.Data;
        for (int p = 0; p < n; p++)
        {
            double d0 = src[p] - muS[0], d1 = src[n + p] - muS[1], d2 = src[2 * n + p] - muS[2];
            for (int c = 0; c < 3; c++)
                dst[c * n + p] = (float)Math.Clamp(a[c, 0] * d0 + a[c, 1] * d1 + a[c, 2] * d2 + muC[c], 0, 1);
        }
        return result;
    }

    /// <summary>Mean RGB vector and 3×3 covariance (population: divided by the pixel count) of an image, in double.</summary>
    public static (double[] Mean, double[,] Covariance) Statistics(RgbImage image)
    {
        int n = image.Plane;
        var d = image.Data;
        var mean = new double[3];
        for (int c = 0; c < 3; c++)
        {
            double s = 0;
            for (int p = 0; p < n; p++) s += d[c * n + p];
            mean[c] = s / n;
        }
        var cov = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = i; j < 3; j++)
            {
                double s = 0;
                for (int p = 0; p < n; p++) s += (d[i * n + p] - mean[i]) * (d[j * n + p] - mean[j]);
                cov[i, j] = cov[j, i] = s / n;
            }
        return (mean, cov);
    }
}
