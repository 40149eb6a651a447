using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Imaging;

public class ResizeAndColorTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData(13, 17, 5, 9)]
    [InlineData(13, 17, 40, 31)]
    [InlineData(1, 1, 3, 2)]
    [InlineData(64, 48, 1, 1)]
    public void ResizeGivesTheRequestedSizeAndStaysInRange(int w, int h, int nw, int nh)
    {
        var r = ImageResizer.Resize(TestImages.Uniform(w + h, w, h), nw, nh);
        Assert.Equal((nw, nh), (r.Width, r.Height));
        Assert.All(r.Data, v => Assert.InRange(v, 0f, 1f));
    }

    [Theory]
    [InlineData(640, 480, 512, 512, 384)]
    [InlineData(480, 640, 512, 384, 512)]
    [InlineData(500, 500, 256, 256, 256)]
    [InlineData(1000, 3, 10, 10, 1)]   // short side rounds to 0.03 → at least 1
    [InlineData(3, 1000, 10, 1, 10)]
    [InlineData(300, 200, 600, 600, 400)] // upscaling
    [InlineData(1001, 333, 512, 512, 170)] // 170.3 → 170
    [InlineData(1000, 333, 3, 3, 1)]       // 0.999 → 1
    public void FitLongSideKeepsAspectRatio(int w, int h, int longSide, int ew, int eh)
    {
        Assert.Equal((ew, eh), ImageResizer.FitLongSideSize(w, h, longSide));
        if (w * h <= 100_000)
        {
            var r = ImageResizer.FitLongSide(new RgbImage(w, h), longSide);
            Assert.Equal((ew, eh), (r.Width, r.Height));
        }
    }

    [Fact]
    public void ConstantImageStaysConstant()
    {
        var img = new RgbImage(37, 23);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < img.Plane; i++) img.Data[c * img.Plane + i] = 0.2f + 0.3f * c;
        foreach (var (w, h) in new[] { (10, 7), (80, 51), (37, 5), (1, 1) })
        {
            var r = ImageResizer.Resize(img, w, h);
            var expected = Enumerable.Range(0, 3).SelectMany(c => Enumerable.Repeat(0.2f + 0.3f * c, w * h)).ToArray();
            Check.Close(expected, r.Data, 0, 1e-6, $"constant {w}×{h}", log);
        }
    }

    [Fact]
    public void ShrinkingACheckerboardAveragesInsteadOfAliasing()
    {
        // 1-pixel checkerboard shrunk 3×: each output centre falls on a source pixel centre, so a 4×4-footprint
        // cubic would return that pixel (0 or 1); a filter widened by the scale factor returns about the mean ½.
        var img = new RgbImage(63, 63);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 63; y++)
                for (int x = 0; x < 63; x++) img[c, y, x] = (x + y) % 2;
        var r = ImageResizer.Resize(img, 21, 21);
        Check.Close(Enumerable.Repeat(0.5f, r.Data.Length).ToArray(), r.Data, 0, 0.01, "checkerboard ↓3", log);
    }

    [Fact]
    public void UpscalingALinearRampStaysLinearInside()
    {
        // Catmull-Rom reproduces linear functions exactly away from the borders.
        var img = new RgbImage(16, 4);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 16; x++) img[c, y, x] = x / 16f;
        var r = ImageResizer.Resize(img, 64, 4);
        var expected = new List<float>();
        var actual = new List<float>();
        for (int x = 8; x < 56; x++)
        {
            double source = (x + 0.5) / 4 - 0.5; // output centre in input pixel coordinates
            expected.Add((float)(source / 16));
            actual.Add(r[1, 2, x]);
        }
        Check.Close(expected.ToArray(), actual.ToArray(), 0, 1e-6, "ramp ↑4", log);
    }

    [Fact]
    public void SameSizeResizeIsACopy()
    {
        var img = TestImages.Uniform(4, 9, 7);
        var r = ImageResizer.Resize(img, 9, 7);
        Assert.NotSame(img.Data, r.Data);
        Assert.Equal(img.Data, r.Data);
    }

    [Fact]
    public void YCbCrMatchesTheJpegMatrixAndRoundTrips()
    {
        // Known colours: white, black, pure red/green/blue.
        AssertYcc((1, 1, 1), (1, 0.5, 0.5));
        AssertYcc((0, 0, 0), (0, 0.5, 0.5));
        AssertYcc((1, 0, 0), (0.299, 0.5 - 0.168736, 1.0));
        AssertYcc((0, 1, 0), (0.587, 0.5 - 0.331264, 0.5 - 0.418688));
        AssertYcc((0, 0, 1), (0.114, 1.0, 0.5 - 0.081312));

        var img = TestImages.Uniform(11, 13, 17);
        var ycc = ColorSpace.ToYCbCr(img);
        int n = img.Plane;
        // Against the coefficient form of the matrix, in double.
        var expected = new float[3 * n];
        for (int i = 0; i < n; i++)
        {
            double r = img.Data[i], g = img.Data[n + i], b = img.Data[2 * n + i];
            expected[i] = (float)(0.299 * r + 0.587 * g + 0.114 * b);
            expected[n + i] = (float)(-0.168736 * r - 0.331264 * g + 0.5 * b + 0.5);
            expected[2 * n + i] = (float)(0.5 * r - 0.418688 * g - 0.081312 * b + 0.5);
        }
        Check.Close(expected, ycc, 0, 2e-6, "rgb→ycbcr vs matrix", log);
        var back = ColorSpace.FromYCbCr(img.Width, img.Height, ycc);
        Check.Close(img.Data, back.Data, 0, 2e-6, "ycbcr→rgb round trip", log);
    }

    private void AssertYcc((float R, float G, float B) rgb, (double Y, double Cb, double Cr) expected)
    {
        var (y, cb, cr) = ColorSpace.RgbToYCbCr(rgb.R, rgb.G, rgb.B);
        Check.Close(new[] { (float)expected.Y, (float)expected.Cb, (float)expected.Cr }, new[] { y, cb, cr }, 0, 2e-6,
            $"ycbcr of {rgb}", log);
    }

    [Fact]
    public void OriginalColorsKeepsContentChromaAndStylizedLuminance()
    {
        // Mid-range values so that no pixel leaves the RGB gamut (where clamping would change chroma).
        var stylized = TestImages.Uniform(21, 24, 18, 0.35f, 0.65f);
        var content = TestImages.Uniform(22, 48, 36, 0.35f, 0.65f);
        var result = OriginalColors.Apply(stylized, content);
        Assert.Equal((24, 18), (result.Width, result.Height));

        int n = result.Plane;
        var got = ColorSpace.ToYCbCr(result);
        var wantLuma = ColorSpace.ToYCbCr(stylized);
        var wantChroma = ColorSpace.ToYCbCr(ImageResizer.Resize(content, 24, 18));
        Check.Close(wantLuma[..n], got[..n], 0, 1e-5, "luminance from stylized", log);
        Check.Close(wantChroma[n..], got[n..], 0, 1e-5, "chroma from content", log);
    }

    [Fact]
    public void OriginalColorsClampsOutOfGamutResults()
    {
        // Bright luminance with a saturated red chroma leaves the gamut; the result must still be in 0..1.
        var stylized = new RgbImage(1, 1, new[] { 1f, 1f, 1f });
        var content = new RgbImage(1, 1, new[] { 1f, 0f, 0f });
        var result = OriginalColors.Apply(stylized, content);
        Assert.All(result.Data, v => Assert.InRange(v, 0f, 1f));
        Assert.Equal(1f, result.Data[0]);
    }
}
