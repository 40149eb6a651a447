using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;
using static IlgpuStyle.Tests.OpData;

namespace IlgpuStyle.Tests.Kernels;

public class ReluTests(ITestOutputHelper log)
{
    public static readonly TheoryData<string, int, int, int> DevicesAndShapes = Devices.WithShapes((3, 7, 5), (13, 17, 19));

    // Tolerances: forward and backward select or copy values, so they must match exactly (0); the
    // accumulated gradient is one float add (rtol 1e-6).
    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void ForwardAndBackwardMatchReference(string device, int c, int h, int w)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(c, h, w);
        var x = TestData.Uniform(1, shape.Count);
        var dy = TestData.Uniform(2, shape.Count);
        var prior = TestData.Uniform(3, shape.Count);
        using var tx = gpu.FromHost(shape, x);
        using var ty = gpu.Allocate(shape);
        using var tdy = gpu.FromHost(shape, dy);
        using var tdx = gpu.FromHost(shape, NaNs(shape.Count));

        Relu.Forward(tx, ty);
        var y = ReluReference.Forward(D(x));
        Check.Close(y, ty.ToHost(), 0, 0, $"relu forward {shape} [{device}]", log);

        var dx = ReluReference.Backward(y, D(dy));
        Relu.Backward(ty, tdy, tdx, accumulate: false);
        Check.Close(dx, tdx.ToHost(), 0, 0, $"relu backward {shape} [{device}]", log);

        tdx.CopyFromHost(prior);
        Relu.Backward(ty, tdy, tdx, accumulate: true);
        Check.Close(Add(prior, dx), tdx.ToHost(), 1e-6, 1e-7, $"relu backward accumulate {shape} [{device}]", log);
    }

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void InPlaceForwardAndBackward(string device)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(3, 7, 5);
        var x = TestData.Uniform(4, shape.Count);
        var dy = TestData.Uniform(5, shape.Count);
        using var t = gpu.FromHost(shape, x);
        using var g = gpu.FromHost(shape, dy);
        Relu.Forward(t, t);
        var y = ReluReference.Forward(D(x));
        Check.Close(y, t.ToHost(), 0, 0, $"relu forward in place [{device}]", log);
        Relu.Backward(t, g, g, accumulate: false);
        Check.Close(ReluReference.Backward(y, D(dy)), g.ToHost(), 0, 0, $"relu backward in place [{device}]", log);
    }

    // Finite differences of L = Σ r ⊙ relu(x) on the double reference, inputs kept ≥ 0.05 from the kink (h = 1e-5).
    // Tolerance 1e-6: the function is piecewise linear, so central differences are exact up to rounding.
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void BackwardMatchesFiniteDifferences(string device)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(2, 3, 5);
        var x = AwayFromZero(6, shape.Count);
        var r = TestData.Uniform(7, shape.Count);
        var numeric = ProjectedFiniteDifferences.Gradient(ReluReference.Forward, D(x), D(r));
        using var tx = gpu.FromHost(shape, x);
        using var ty = gpu.Allocate(shape);
        using var tr = gpu.FromHost(shape, r);
        using var tdx = gpu.Allocate(shape);
        Relu.Forward(tx, ty);
        Relu.Backward(ty, tr, tdx, accumulate: false);
        Check.Close(numeric, tdx.ToHost(), 1e-6, 1e-6, $"relu backward vs finite differences [{device}]", log);
    }

    [Fact]
    public void MismatchedShapesNameBothShapes()
    {
        var gpu = Devices.Get("cpu");
        using var a = gpu.Allocate(new Shape4(1, 3, 7, 5));
        using var b = gpu.Allocate(new Shape4(1, 3, 5, 7));
        var e = Assert.Throws<ArgumentException>(() => Relu.Forward(a, b));
        Assert.Contains("1×3×7×5", e.Message);
        Assert.Contains("1×3×5×7", e.Message);
        e = Assert.Throws<ArgumentException>(() => Relu.Backward(a, a, b, accumulate: false));
        Assert.Contains("1×3×7×5", e.Message);
        Assert.Contains("1×3×5×7", e.Message);
    }
}
