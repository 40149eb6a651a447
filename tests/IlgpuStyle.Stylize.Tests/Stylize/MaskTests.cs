using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Guided;
using IlgpuStyle.Stylize.Imaging;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// Spatial control's masks on the host: read as grey weights (a PNG round-trips exactly, colour counts by luminance),
/// resized by area averaging (against an independent 2-D overlap-area reference, for shrinking, enlarging and
/// non-integer factors; the mean — the mask's mass — is kept), and the checks before a run (one mask per style, the
/// content's aspect ratio within 1 %, not all black).
/// </summary>
public sealed class MaskTests
{
    [Fact]
    public void AGreyPngRoundTripsExactlyAndColourCountsByLuminance()
    {
        using var dir = new TempDir();
        var levels = Enumerable.Range(0, 6 * 4).Select(i => (i * 37 % 256) / 255f).ToArray();
        var mask = new GreyMask(6, 4, levels);
        var path = Path.Combine(dir.Path, "mask.png");
        ImageWriter.Save(mask.ToImage(), path);
        var loaded = GreyMask.Load(path);
        Assert.Equal((6, 4), (loaded.Width, loaded.Height));
        Assert.Equal(levels, loaded.Data);

        var colour = new RgbImage(2, 1);
        colour[0, 0, 0] = 1f;              // pure red: Y = 0.299
        colour[1, 0, 1] = colour[2, 0, 1] = 1f; // cyan: Y = 0.701
        var weights = GreyMask.FromImage(colour).Data;
        Assert.Equal(0.299f, weights[0], 1e-6f);
        Assert.Equal(0.701f, weights[1], 1e-6f);
    }

    /// <summary>
    /// Output pixel (y, x) covers [x·sx, (x+1)·sx) × [y·sy, (y+1)·sy) of the source; its value is the source integrated
    /// over that rectangle (each source pixel weighted by its overlap area) divided by the area. Not separable, in double.
    /// </summary>
    private static double[] AreaReference(float[] src, int w, int h, int nw, int nh)
    {
        double sx = (double)w / nw, sy = (double)h / nh;
        var result = new double[nw * nh];
        for (int y = 0; y < nh; y++)
        for (int x = 0; x < nw; x++)
        {
            double sum = 0;
            for (int j = 0; j < h; j++)
            for (int i = 0; i < w; i++)
            {
                double ox = Math.Min((x + 1) * sx, i + 1) - Math.Max(x * sx, i);
                double oy = Math.Min((y + 1) * sy, j + 1) - Math.Max(y * sy, j);
                if (ox > 0 && oy > 0) sum += ox * oy * src[j * w + i];
            }
            result[y * nw + x] = sum / (sx * sy);
        }
        return result;
    }

    [Theory]
    [InlineData(6, 4, 3, 2)]     // 2× down: block means
    [InlineData(13, 7, 5, 3)]    // non-integer down
    [InlineData(5, 3, 13, 7)]    // non-integer up
    [InlineData(37, 20, 16, 9)]
    [InlineData(1, 1, 4, 3)]     // a constant
    [InlineData(9, 9, 9, 4)]     // one axis only
    public void AreaResizeMatchesTheOverlapReferenceAndKeepsTheMean(int w, int h, int nw, int nh)
    {
        var src = TestData.Uniform(3, w * h, 0f, 1f);
        var resized = new GreyMask(w, h, src).Resize(nw, nh);
        Assert.Equal((nw, nh), (resized.Width, resized.Height));
        Check.Close(AreaReference(src, w, h, nw, nh), resized.Data, 1e-6, 1e-7, $"area resize {w}×{h} → {nw}×{nh}");
        Assert.Equal(src.Average(v => (double)v), resized.Data.Average(v => (double)v), 1e-6);
        Assert.All(resized.Data, v => Assert.InRange(v, src.Min() - 1e-6f, src.Max() + 1e-6f));
    }

    [Fact]
    public void ABinaryMaskShrunkByAnIntegerFactorHasTheCoverageOfEachBlock()
    {
        // Left 3 of 8 columns white: halving gives 1, then 0.5 (the block straddling the edge), then 0.
        var data = new float[8 * 2];
        for (int y = 0; y < 2; y++) for (int x = 0; x < 3; x++) data[y * 8 + x] = 1f;
        var half = new GreyMask(8, 2, data).Resize(4, 1);
        Assert.Equal(new[] { 1f, 0.5f, 0f, 0f }, half.Data);
    }

    private static StyleImage Style(GreyMask? mask) => new(new RgbImage(4, 4)) { Mask = mask };

    private static GreyMask White(int w, int h) => new(w, h, Enumerable.Repeat(1f, w * h).ToArray());

    [Fact]
    public void MasksAreCheckedBeforeARun()
    {
        // The content's aspect within 1 %, whatever the size: 1024×683 vs 256×171 is 0.15 % off.
        StyleMasks.Validate(1024, 683, [Style(White(256, 171)), Style(White(1024, 683))]);
        StyleMasks.Validate(40, 24, [Style(null), Style(null)]);
        Assert.Null(StyleMasks.AtSize([Style(null)], 10, 6));

        var e = Assert.Throws<StylizeUsageException>(() => StyleMasks.Validate(40, 24, [Style(White(24, 40))], ["sky.png"]));
        Assert.Contains("style mask 'sky.png' is 24×40 (aspect 0.6) but the content is 40×24 (aspect 1.667)", e.Message);
        e = Assert.Throws<StylizeUsageException>(() => StyleMasks.Validate(40, 24, [Style(White(40, 24)), Style(null)]));
        Assert.Contains("1 style masks for 2 style images", e.Message);
        e = Assert.Throws<StylizeUsageException>(() => StyleMasks.Validate(40, 24, [Style(new GreyMask(5, 3, new float[15]))], ["black.png"]));
        Assert.Contains("'black.png' is black everywhere", e.Message);
    }

    [Fact]
    public void EachScaleGetsTheMasksAtItsSize()
    {
        var masks = StyleMasks.AtSize([Style(White(80, 48)), Style(new GreyMask(20, 12, TestData.Uniform(1, 240, 0f, 1f)))], 40, 24)!;
        Assert.Equal(2, masks.Count);
        Assert.All(masks, m => Assert.Equal((40, 24), (m.Width, m.Height)));
        Assert.All(masks[0].Data, v => Assert.Equal(1f, v));
    }
}
