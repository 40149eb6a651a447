using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

public class RegionTests(ITestOutputHelper log)
{
    /// <summary>(src C×H×W, dst H×W, rectangle): crops, pastes, a whole map, one pixel, rows wider than a row group.</summary>
    public static TheoryData<string, int> Cases => Devices.With(0, 1, 2, 3, 4);

    private static readonly (int C, int SH, int SW, int SY, int SX, int DH, int DW, int DY, int DX, int H, int W)[] Shapes =
    [
        (3, 9, 7, 2, 1, 4, 5, 0, 0, 4, 5),          // crop
        (5, 4, 5, 0, 0, 11, 13, 6, 3, 4, 5),        // paste into a larger map
        (2, 6, 6, 0, 0, 6, 6, 0, 0, 6, 6),          // whole map
        (1, 3, 3, 2, 2, 2, 2, 1, 0, 1, 1),          // one pixel
        (4, 5, 300, 1, 17, 3, 290, 0, 3, 3, 283),   // rows wider than a row group, odd offsets
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void CopyAndAccumulateMatchCpuLoop(string device, int shape)
    {
        var gpu = Devices.Get(device);
        var (c, sh, sw, sy, sx, dh, dw, dy, dx, h, w) = Shapes[shape];
        Shape4 s = Shape4.Image(c, sh, sw), d = Shape4.Image(c, dh, dw);
        var src = TestData.Uniform(1, s.Count);
        var prior = TestData.Uniform(2, d.Count);
        using var srcT = gpu.FromHost(s, src);
        using var dstT = gpu.FromHost(d, prior);
        foreach (bool accumulate in new[] { false, true })
        {
            dstT.CopyFromHost(prior);
            Regions.Copy(srcT, sy, sx, dstT, dy, dx, h, w, accumulate);
            var expected = RegionReference.Copy(src, s, sy, sx, prior, d, dy, dx, h, w, accumulate);
            Check.Close(expected, dstT.ToHost(), 0, 0, $"region copy {s}→{d} accumulate={accumulate}", log);
        }
    }

    [Fact]
    public void RefusesRectanglesOutsideEitherMapAndChannelMismatch()
    {
        var gpu = Devices.Get("cpu");
        using var a = gpu.Allocate(Shape4.Image(2, 4, 4));
        using var b = gpu.Allocate(Shape4.Image(2, 3, 3));
        using var three = gpu.Allocate(Shape4.Image(3, 4, 4));
        Check.NamesShapes(() => Regions.Copy(a, 1, 0, b, 0, 0, 4, 3), "1×2×4×4");
        Check.NamesShapes(() => Regions.Copy(a, 0, 0, b, 1, 1, 3, 3), "1×2×3×3");
        Check.NamesShapes(() => Regions.Copy(a, 0, 0, three, 0, 0, 1, 1), "1×3×4×4");
        Assert.Throws<ArgumentException>(() => Regions.Copy(a, -1, 0, b, 0, 0, 1, 1));
        Assert.Throws<ArgumentException>(() => Regions.Copy(a, 0, 0, a, 0, 0, 1, 1));
        Regions.Copy(a, 4, 4, b, 3, 3, 0, 0); // empty rectangle at the far corner: nothing to do, no error
    }
}
