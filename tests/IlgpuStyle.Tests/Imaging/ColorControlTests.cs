using System.Diagnostics;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Imaging;

/// <summary>
/// --color-control's host-side transforms (Gatys et al. 2017) against formulas written out here: the symmetric 3×3
/// eigen-decomposition, colour histogram matching (mean and covariance; the symmetric-root map, with the roots taken
/// by Denman–Beavers iteration instead of an eigen-decomposition) and luminance matching (mean and standard deviation
/// of Y = 0.299 R + 0.587 G + 0.114 B).
/// </summary>
public class ColorControlTests(ITestOutputHelper log)
{
    public static TheoryData<string, double[]> SymmetricMatrices => new()
    {
        // name, row-major 3×3
        { "random SPD", [0.04, 0.01, -0.02, 0.01, 0.03, 0.005, -0.02, 0.005, 0.05] },
        { "identity (triple eigenvalue)", [1, 0, 0, 0, 1, 0, 0, 0, 1] },
        { "double eigenvalue", [2, 1, 1, 1, 2, 1, 1, 1, 2] },
        { "rank 1 (grey image)", [1, 1, 1, 1, 1, 1, 1, 1, 1] },
        { "indefinite", [0, 3, -1, 3, 1, 2, -1, 2, -4] },
        { "zero", [0, 0, 0, 0, 0, 0, 0, 0, 0] },
    };

    [Theory]
    [MemberData(nameof(SymmetricMatrices))]
    public void EigenDecompositionReconstructsTheMatrixWithOrthonormalVectors(string name, double[] rowMajor)
    {
        var a = Matrix(rowMajor);
        var (values, v) = SymmetricEigen3.Decompose(a);
        double worst = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                double vlvt = 0, vtv = 0;
                for (int k = 0; k < 3; k++)
                {
                    vlvt += v[i, k] * values[k] * v[j, k];
                    vtv += v[k, i] * v[k, j];
                }
                worst = Math.Max(worst, Math.Max(Math.Abs(vlvt - a[i, j]), Math.Abs(vtv - (i == j ? 1 : 0))));
            }
        log.WriteLine($"{name}: λ = {string.Join(", ", values.Select(l => l.ToString("G6")))}; max error of VΛVᵀ − A and VᵀV − I: {worst:E1}");
        Assert.True(worst < 1e-12, $"{name}: error {worst:E2}");
        Assert.Equal(Trace(a), values.Sum(), 12);
    }

    [Fact]
    public void HistogramMatchingGivesTheStyleTheContentsMeanAndCovariance()
    {
        var content = Correlated(1, 40, 30, [0.55, 0.45, 0.4], [[0.12, 0.02, 0], [0.05, 0.1, 0.01], [0.03, 0.04, 0.08]]);
        var style = Correlated(2, 33, 21, [0.4, 0.5, 0.6], [[0.05, 0, 0.06], [0, 0.13, -0.03], [-0.02, 0.02, 0.07]]);
        var mapped = ColorHistogramMatch.Apply(style, content);
        Assert.Equal((style.Width, style.Height), (mapped.Width, mapped.Height));
        Assert.All(mapped.Data, v => Assert.True(v > 0 && v < 1, $"{v} was clamped: the test needs an unclamped mapping"));

        var (muC, sigmaC) = MeanAndCovariance(content);
        var (muM, sigmaM) = MeanAndCovariance(mapped);
        var (muS, sigmaS) = MeanAndCovariance(style);
        log.WriteLine($"style μ {Show(muS)} → {Show(muM)}, content μ {Show(muC)}; style Σ diag {Show(Diag(sigmaS))} → {Show(Diag(sigmaM))}, content {Show(Diag(sigmaC))}");
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(muC[i], muM[i], 1e-4);
            for (int j = 0; j < 3; j++) Assert.Equal(sigmaC[i, j], sigmaM[i, j], 1e-4);
        }
        Assert.True(Math.Abs(sigmaS[0, 2] - sigmaC[0, 2]) > 1e-3, "the test images should start with different covariances");
    }

    [Fact]
    public void HistogramMatchingIsTheSymmetricRootMap()
    {
        // x' = Σ_c^½ Σ_s^−½ (x − μ_s) + μ_c with the roots from Denman–Beavers (Y → A^½, Z → A^−½), not from eigenvectors.
        var content = Correlated(3, 24, 20, [0.5, 0.5, 0.45], [[0.1, 0.03, 0.01], [0.02, 0.09, 0], [0.04, 0.01, 0.1]]);
        var style = Correlated(4, 19, 27, [0.45, 0.4, 0.55], [[0.08, -0.03, 0.02], [0.01, 0.1, 0.04], [0, 0.02, 0.06]]);
        var (muC, sigmaC) = MeanAndCovariance(content);
        var (muS, sigmaS) = MeanAndCovariance(style);
        var a = Multiply(DenmanBeavers(sigmaC).Root, DenmanBeavers(sigmaS).InverseRoot);
        int n = style.Plane;
        var expected = new float[3 * n];
        for (int p = 0; p < n; p++)
            for (int c = 0; c < 3; c++)
            {
                double v = muC[c];
                for (int k = 0; k < 3; k++) v += a[c, k] * (style.Data[k * n + p] - muS[k]);
                expected[c * n + p] = (float)Math.Clamp(v, 0, 1);
            }
        Check.Close(expected, ColorHistogramMatch.Apply(style, content).Data, 0, 2e-6, "symmetric-root map", log);
    }

    [Fact]
    public void AFlatStyleBecomesTheContentsMeanColourAndAFlatContentGivesAFlatResult()
    {
        var content = Correlated(5, 16, 12, [0.6, 0.4, 0.3], [[0.1, 0, 0], [0, 0.1, 0], [0, 0, 0.1]]);
        var flat = Flat(9, 7, 0.2f, 0.7f, 0.9f);
        var (muC, _) = MeanAndCovariance(content);
        var mapped = ColorHistogramMatch.Apply(flat, content);
        for (int c = 0; c < 3; c++)
            Assert.All(mapped.Data.Skip(c * mapped.Plane).Take(mapped.Plane), v => Assert.Equal(muC[c], v, 1e-5));

        var style = Correlated(6, 16, 12, [0.4, 0.5, 0.6], [[0.1, 0.02, 0], [0, 0.1, 0.03], [0.01, 0, 0.1]]);
        var onFlat = ColorHistogramMatch.Apply(style, Flat(5, 5, 0.3f, 0.3f, 0.8f));
        float[] grey = [0.3f, 0.3f, 0.8f];
        for (int c = 0; c < 3; c++)
            Assert.All(onFlat.Data.Skip(c * onFlat.Plane).Take(onFlat.Plane), v => Assert.Equal(grey[c], v, 1e-5));
    }

    [Fact]
    public void HistogramMatchingClampsToTheUnitCube()
    {
        // A low-contrast style mapped onto a high-contrast content: the map stretches it past 0 and 1.
        var content = TestImages.Random8Bit(7, 20, 20);
        var style = TestImages.Uniform(8, 20, 20, 0.45f, 0.55f);
        var mapped = ColorHistogramMatch.Apply(style, content);
        Assert.All(mapped.Data, v => Assert.InRange(v, 0f, 1f));
        Assert.Contains(mapped.Data, v => v == 0f || v == 1f);
    }

    [Fact]
    public void LuminanceMatchingGivesTheStyleTheContentsLuminanceMeanAndDeviation()
    {
        var content = Correlated(9, 30, 20, [0.5, 0.45, 0.4], [[0.1, 0.02, 0], [0.04, 0.08, 0.01], [0, 0.02, 0.09]]);
        var style = Correlated(10, 25, 35, [0.35, 0.4, 0.5], [[0.04, 0.01, 0], [0, 0.05, 0.02], [0.01, 0, 0.06]]);
        var matched = LuminanceTransfer.MatchedStyle(style, content);
        Assert.Equal((style.Width, style.Height), (matched.Width, matched.Height));
        int n = matched.Plane;
        Assert.Equal(matched.Data[..n], matched.Data[n..(2 * n)]);    // grey: R = G = B
        Assert.Equal(matched.Data[..n], matched.Data[(2 * n)..]);
        Assert.All(matched.Data, v => Assert.True(v > 0 && v < 1, $"{v} was clamped"));

        var (muC, sdC) = MeanAndStd(Y(content));
        var (muS, sdS) = MeanAndStd(Y(style));
        var (muM, sdM) = MeanAndStd(matched.Data[..n].Select(v => (double)v).ToArray());
        log.WriteLine($"luminance μ, σ: style {muS:F4}, {sdS:F4} → {muM:F4}, {sdM:F4}; content {muC:F4}, {sdC:F4}");
        Assert.Equal(muC, muM, 1e-5);
        Assert.Equal(sdC, sdM, 1e-5);
        Assert.True(Math.Abs(sdS - sdC) > 0.01, "the test images should start with different contrast");
        // An affine function of the style's own luminance, increasing: L_s' = σ_c/σ_s (L_s − μ_s) + μ_c.
        var ys = Y(style);
        var expected = ys.Select(l => (float)(sdC / sdS * (l - muS) + muC)).ToArray();
        Check.Close(expected, matched.Data[..n], 0, 1e-5, "L_s' formula", log);
    }

    [Fact]
    public void GreyContentIsTheLuminanceInEveryChannelAndAFlatStyleTakesTheContentsMean()
    {
        var content = TestImages.Uniform(11, 13, 9);
        var grey = LuminanceTransfer.Gray(content);
        var y = Y(content).Select(v => (float)v).ToArray();
        for (int c = 0; c < 3; c++) Check.Close(y, grey.Data[(c * grey.Plane)..((c + 1) * grey.Plane)], 0, 1e-6, $"Y in channel {c}", log);

        var flat = LuminanceTransfer.MatchedStyle(Flat(6, 4, 0.9f, 0.1f, 0.5f), content);
        var (muC, _) = MeanAndStd(Y(content));
        Assert.All(flat.Data, v => Assert.Equal(muC, v, 1e-6));
    }

    /// <summary>The real images at full size: the statistics match up to what clamping removes, in milliseconds.</summary>
    [Fact]
    public void RealImagesAreMatchedInMilliseconds()
    {
        var images = SharedData.RequireOrSkip("images");
        var content = ImageLoader.Load(Path.Combine(images, "tubingen.jpg"));
        var style = ImageLoader.Load(Path.Combine(images, "starry_night.jpg"));
        var clock = Stopwatch.StartNew();
        var histogram = ColorHistogramMatch.Apply(style, content);
        double histogramMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        var luminance = LuminanceTransfer.MatchedStyle(style, content);
        var grey = LuminanceTransfer.Gray(content);
        double luminanceMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        var recombined = OriginalColors.Apply(ImageResizer.FitLongSide(grey, 512), content);
        double recombineMs = clock.Elapsed.TotalMilliseconds;
        log.WriteLine($"content {content.Width}×{content.Height}, style {style.Width}×{style.Height}: histogram matching {histogramMs:0.0} ms, " +
                      $"luminance matching + grey content {luminanceMs:0.0} ms, recombining a {recombined.Width}×{recombined.Height} result {recombineMs:0.0} ms");
        var (muC, sigmaC) = MeanAndCovariance(content);
        var (muH, sigmaH) = MeanAndCovariance(histogram);
        log.WriteLine($"histogram: μ {Show(muH)} vs content {Show(muC)}; Σ diag {Show(Diag(sigmaH))} vs {Show(Diag(sigmaC))}");
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(muC[c], muH[c], 0.02);
            Assert.Equal(sigmaC[c, c], sigmaH[c, c], 0.01);
        }
        var (lc, sc) = MeanAndStd(Y(content));
        var (lm, sm) = MeanAndStd(luminance.Data[..luminance.Plane].Select(v => (double)v).ToArray());
        log.WriteLine($"luminance: μ {lm:F4} σ {sm:F4} vs content {lc:F4} {sc:F4}");
        Assert.Equal(lc, lm, 0.01);
        Assert.Equal(sc, sm, 0.01);
    }

    // --- independent helpers (double precision) ---

    /// <summary>An image whose pixels are μ + M·(u − ½)·√12 with u uniform, i.e. covariance M·Mᵀ (values kept inside 0..1 by the callers' choice).</summary>
    private static RgbImage Correlated(int seed, int width, int height, double[] mean, double[][] mix)
    {
        var rng = new Random(seed);
        var img = new RgbImage(width, height);
        int n = img.Plane;
        for (int p = 0; p < n; p++)
        {
            var u = new double[3];
            for (int k = 0; k < 3; k++) u[k] = (rng.NextDouble() - 0.5) * Math.Sqrt(12);
            for (int c = 0; c < 3; c++)
                img.Data[c * n + p] = (float)(mean[c] + mix[c][0] * u[0] + mix[c][1] * u[1] + mix[c][2] * u[2]);
        }
        return img;
    }

    private static RgbImage Flat(int width, int height, float r, float g, float b)
    {
        var img = new RgbImage(width, height);
        float[] rgb = [r, g, b];
        for (int c = 0; c < 3; c++) Array.Fill(img.Data, rgb[c], c * img.Plane, img.Plane);
        return img;
    }

    private static (double[] Mean, double[,] Cov) MeanAndCovariance(RgbImage img)
    {
        int n = img.Plane;
        var mean = new double[3];
        for (int c = 0; c < 3; c++) mean[c] = img.Data.Skip(c * n).Take(n).Average(v => (double)v);
        var cov = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                for (int p = 0; p < n; p++) cov[i, j] += (img.Data[i * n + p] - mean[i]) * (img.Data[j * n + p] - mean[j]);
                cov[i, j] /= n;
            }
        return (mean, cov);
    }

    private static double[] Y(RgbImage img)
    {
        int n = img.Plane;
        return Enumerable.Range(0, n).Select(p => 0.299 * img.Data[p] + 0.587 * img.Data[n + p] + 0.114 * img.Data[2 * n + p]).ToArray();
    }

    private static (double Mean, double Std) MeanAndStd(double[] v)
    {
        double mean = v.Average();
        return (mean, Math.Sqrt(v.Average(x => (x - mean) * (x - mean))));
    }

    /// <summary>Denman–Beavers: Y₀ = A, Z₀ = I, Yₖ₊₁ = (Yₖ + Zₖ⁻¹)/2, Zₖ₊₁ = (Zₖ + Yₖ⁻¹)/2 → A^½, A^−½ (A SPD).</summary>
    private static (double[,] Root, double[,] InverseRoot) DenmanBeavers(double[,] a)
    {
        var y = (double[,])a.Clone();
        var z = Matrix([1, 0, 0, 0, 1, 0, 0, 0, 1]);
        for (int k = 0; k < 60; k++)
        {
            var (yi, zi) = (Inverse(y), Inverse(z));
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    (y[i, j], z[i, j]) = (0.5 * (y[i, j] + zi[i, j]), 0.5 * (z[i, j] + yi[i, j]));
        }
        return (y, z);
    }

    private static double[,] Inverse(double[,] m)
    {
        // Adjugate / determinant.
        var r = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                int i1 = (j + 1) % 3, i2 = (j + 2) % 3, j1 = (i + 1) % 3, j2 = (i + 2) % 3;
                r[i, j] = m[i1, j1] * m[i2, j2] - m[i1, j2] * m[i2, j1];
            }
        double det = m[0, 0] * r[0, 0] + m[0, 1] * r[1, 0] + m[0, 2] * r[2, 0];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) r[i, j] /= det;
        return r;
    }

    private static double[,] Multiply(double[,] a, double[,] b)
    {
        var r = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 3; k++) r[i, j] += a[i, k] * b[k, j];
        return r;
    }

    private static double[,] Matrix(double[] rowMajor)
    {
        var m = new double[3, 3];
        for (int i = 0; i < 9; i++) m[i / 3, i % 3] = rowMajor[i];
        return m;
    }

    private static double Trace(double[,] m) => m[0, 0] + m[1, 1] + m[2, 2];
    private static double[] Diag(double[,] m) => [m[0, 0], m[1, 1], m[2, 2]];
    private static string Show(double[] v) => "(" + string.Join(", ", v.Select(x => x.ToString("F4"))) + ")";
}
