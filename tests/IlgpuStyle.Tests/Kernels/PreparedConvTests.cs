using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>Weights prepared once give bit-for-bit the results of the per-call rearrangement.</summary>
public class PreparedConvTests
{
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void PreparedWeightsMatchPerCallLayoutBitwise(string device)
    {
        var gpu = Devices.Get(device);
        var xs = Shape4.Image(13, 9, 11);
        var ws = new Shape4(10, 13, 3, 3);
        using var x = gpu.FromHost(xs, TestData.Uniform(1, xs.Count));
        using var w = gpu.FromHost(ws, TestData.Uniform(2, ws.Count));
        using var b = gpu.FromHost(Shape4.Vector(10), TestData.Uniform(3, 10));
        using var dy = gpu.FromHost(Shape4.Image(10, 9, 11), TestData.Uniform(4, 990));
        using var prepared = Conv2d.Prepare3x3(w);
        using var y1 = gpu.Allocate(Shape4.Image(10, 9, 11));
        using var y2 = gpu.Allocate(Shape4.Image(10, 9, 11));
        Conv2d.Forward(x, w, b, y1, Conv2dParams.Same3x3, fuseRelu: true);
        Conv2d.Forward(x, prepared, b, y2, fuseRelu: true);
        Assert.Equal(y1.ToHost(), y2.ToHost());

        using var dx1 = gpu.FromHost(xs, TestData.Uniform(5, xs.Count));
        using var dx2 = gpu.FromHost(xs, TestData.Uniform(5, xs.Count));
        Conv2d.BackwardData(dy, w, dx1, Conv2dParams.Same3x3, accumulate: true);
        Conv2d.BackwardData(dy, prepared, dx2, accumulate: true);
        Assert.Equal(dx1.ToHost(), dx2.ToHost());
    }

    [Fact]
    public void PrepareRejectsNon3x3Weights()
    {
        var gpu = Devices.Get("cpu");
        using var w = gpu.Allocate(new Shape4(4, 3, 5, 5));
        var e = Assert.Throws<ArgumentException>(() => Conv2d.Prepare3x3(w));
        Assert.Contains("4×3×5×5", e.Message);
    }
}
