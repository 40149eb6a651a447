using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;
using static IlgpuStyle.Tests.OpData;

namespace IlgpuStyle.Tests.Kernels;

public class ChannelAffineTests(ITestOutputHelper log)
{
    private static readonly ChannelAffine.Coefficients CaffeLike = new(2, 1, 0, 255f, 255f, 255f, -103.939f, -116.779f, -123.68f);

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ForwardAndBackwardMatchCpuLoops(string device)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(3, 7, 5);
        var x = TestData.Uniform(3, shape.Count, 0f, 1f);
        var dy = TestData.Uniform(4, shape.Count);
        var old = TestData.Uniform(5, shape.Count);
        using var tx = gpu.FromHost(shape, x);
        using var ty = gpu.Allocate(shape);
        using var tdy = gpu.FromHost(shape, dy);
        using var tdx = gpu.FromHost(shape, old);

        ChannelAffine.Forward(tx, ty, CaffeLike);
        var y = ChannelAffineReference.Forward(D(x), shape, CaffeLike);
        var dx = Add(old, ChannelAffineReference.Backward(D(dy), shape, CaffeLike));
        Check.Close(y, ty.ToHost(), 1e-6, 1e-4, $"channel affine forward [{device}]", log);
        ChannelAffine.Backward(tdy, tdx, CaffeLike, accumulate: true);
        Check.Close(dx, tdx.ToHost(), 1e-6, 1e-4, $"channel affine backward accumulate [{device}]", log);
    }

    [Fact]
    public void RejectsNonPermutationAndWrongChannelCount()
    {
        var gpu = Devices.Get("cpu");
        using var x = gpu.Allocate(Shape4.Image(3, 2, 2));
        using var y = gpu.Allocate(Shape4.Image(3, 2, 2));
        Assert.Throws<ArgumentException>(() => ChannelAffine.Forward(x, y, CaffeLike with { Src2 = 1 }));
        using var four = gpu.Allocate(Shape4.Image(4, 2, 2));
        var e = Assert.Throws<ArgumentException>(() => ChannelAffine.Forward(four, four, CaffeLike));
        Assert.Contains("1×4×2×2", e.Message);
    }
}
