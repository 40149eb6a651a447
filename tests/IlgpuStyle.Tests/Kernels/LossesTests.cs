using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;
using static IlgpuStyle.Tests.OpData;

namespace IlgpuStyle.Tests.Kernels;

public class LossesTests(ITestOutputHelper log)
{
    public static readonly TheoryData<string, int, int, int> DevicesAndShapes = Devices.WithShapes((3, 7, 5), (13, 17, 19));

    // Loss: float reduction of ≤ 4199 terms vs a double sum, rtol 1e-5. Gradient: one float multiply, rtol 1e-6.
    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void MseMatchesReference(string device, int c, int h, int w)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(c, h, w);
        const float weight = 2.5f;
        var a = TestData.Uniform(81, shape.Count);
        var t = TestData.Uniform(82, shape.Count);
        var prior = TestData.Uniform(83, shape.Count);
        using var ta = gpu.FromHost(shape, a);
        using var tt = gpu.FromHost(shape, t);
        using var loss = gpu.FromHost(Shape4.Scalar, [float.NaN]);
        using var da = gpu.FromHost(shape, NaNs(shape.Count));

        Losses.Mse(ta, tt, loss, weight);
        Check.Close([LossReference.Mse(D(a), D(t), weight)], loss.ToHost(), 1e-5, 1e-7, $"mse {shape} [{device}]", log);

        var expected = LossReference.MseBackward(D(a), D(t), weight);
        Losses.MseBackward(ta, tt, da, weight, accumulate: false);
        Check.Close(expected, da.ToHost(), 1e-6, 1e-9, $"mse backward {shape} [{device}]", log);

        da.CopyFromHost(prior);
        Losses.MseBackward(ta, tt, da, weight, accumulate: true);
        Check.Close(Add(prior, expected), da.ToHost(), 1e-6, 1e-7, $"mse backward accumulate {shape} [{device}]", log);
    }

    // Finite differences of the double reference loss (h = 1e-5; quadratic, exact up to rounding); rtol 1e-5, atol 1e-7.
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void MseBackwardMatchesFiniteDifferences(string device)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(2, 3, 5);
        const float weight = 0.8f;
        var a = TestData.Uniform(84, shape.Count);
        var t = TestData.Uniform(85, shape.Count);
        var numeric = FiniteDifferences.Gradient(v => LossReference.Mse(v, D(t), weight), D(a));
        using var ta = gpu.FromHost(shape, a);
        using var tt = gpu.FromHost(shape, t);
        using var da = gpu.Allocate(shape);
        Losses.MseBackward(ta, tt, da, weight, accumulate: false);
        Check.Close(numeric, da.ToHost(), 1e-5, 1e-7, $"mse backward vs finite differences [{device}]", log);
    }

    [Fact]
    public void MismatchedShapesNameBothShapes()
    {
        var gpu = Devices.Get("cpu");
        using var a = gpu.Allocate(new Shape4(1, 3, 7, 5));
        using var b = gpu.Allocate(new Shape4(1, 3, 5, 7));
        using var loss = gpu.Allocate(Shape4.Scalar);
        var e = Assert.Throws<ArgumentException>(() => Losses.Mse(a, b, loss, 1f));
        Assert.Contains("1×3×7×5", e.Message);
        Assert.Contains("1×3×5×7", e.Message);
        e = Assert.Throws<ArgumentException>(() => Losses.MseBackward(a, a, b, 1f, false));
        Assert.Contains("1×3×7×5", e.Message);
        Assert.Contains("1×3×5×7", e.Message);
        e = Assert.Throws<ArgumentException>(() => Losses.Mse(a, a, b, 1f));
        Assert.Contains("1×3×5×7", e.Message);
        Assert.Contains("1×1×1×1", e.Message);
    }
}
