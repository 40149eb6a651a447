using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;
using static IlgpuStyle.Tests.OpData;

namespace IlgpuStyle.Tests.Kernels;

public class TotalVariationTests(ITestOutputHelper log)
{
    // 1×3×1×6 and 1×2×5×1 have no vertical or no horizontal pairs.
    public static readonly TheoryData<string, int, int, int> DevicesAndShapes = Devices.WithShapes((3, 7, 5), (13, 17, 19), (3, 1, 6), (2, 5, 1));

    // Loss: float reduction vs a double sum, rtol 1e-5. Gradient: ≤ 4 float differences per pixel, rtol 1e-5, atol 1e-6.
    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void ForwardAndBackwardMatchReference(string device, int c, int h, int w)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(c, h, w);
        const float weight = 0.3f;
        var x = TestData.Uniform(91, shape.Count);
        var prior = TestData.Uniform(92, shape.Count);
        using var tx = gpu.FromHost(shape, x);
        using var loss = gpu.FromHost(Shape4.Scalar, [float.NaN]);
        using var dx = gpu.FromHost(shape, NaNs(shape.Count));

        TotalVariation.Forward(tx, loss, weight);
        Check.Close([LossReference.TotalVariation(D(x), shape, weight)], loss.ToHost(), 1e-5, 1e-7,
            $"total variation {shape} [{device}]", log);

        var expected = LossReference.TotalVariationBackward(D(x), shape, weight);
        TotalVariation.Backward(tx, dx, weight, accumulate: false);
        Check.Close(expected, dx.ToHost(), 1e-5, 1e-6, $"total variation backward {shape} [{device}]", log);

        dx.CopyFromHost(prior);
        TotalVariation.Backward(tx, dx, weight, accumulate: true);
        Check.Close(Add(prior, expected), dx.ToHost(), 1e-5, 1e-6, $"total variation backward accumulate {shape} [{device}]", log);
    }

    // A constant image has no variation; a horizontal ramp of step s over H×W has C·H·(W−1) pairs of s².
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void KnownValues(string device)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(2, 3, 4);
        using var x = gpu.FromHost(shape, Enumerable.Repeat(0.7f, shape.Count).ToArray());
        using var loss = gpu.Allocate(Shape4.Scalar);
        TotalVariation.Forward(x, loss, 1f);
        Assert.Equal(0f, loss.ToScalar());
        x.CopyFromHost(Enumerable.Range(0, shape.Count).Select(i => 0.5f * (i % 4)).ToArray());
        TotalVariation.Forward(x, loss, 2f);
        Assert.Equal(2f * 2 * 3 * 3 * 0.25f, loss.ToScalar());
    }

    // Finite differences of the double reference loss (h = 1e-5; quadratic); rtol 1e-5, atol 5e-6 (gradients up to ~10).
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void BackwardMatchesFiniteDifferences(string device)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(2, 4, 5);
        const float weight = 1.3f;
        var x = TestData.Uniform(93, shape.Count);
        var numeric = FiniteDifferences.Gradient(v => LossReference.TotalVariation(v, shape, weight), D(x));
        using var tx = gpu.FromHost(shape, x);
        using var dx = gpu.Allocate(shape);
        TotalVariation.Backward(tx, dx, weight, accumulate: false);
        Check.Close(numeric, dx.ToHost(), 1e-5, 5e-6, $"total variation backward vs finite differences [{device}]", log);
    }

    [Fact]
    public void MismatchedShapesNameBothShapes()
    {
        var gpu = Devices.Get("cpu");
        using var x = gpu.Allocate(new Shape4(1, 3, 7, 5));
        using var dx = gpu.Allocate(new Shape4(1, 3, 5, 7));
        var e = Assert.Throws<ArgumentException>(() => TotalVariation.Backward(x, dx, 1f, false));
        Assert.Contains("1×3×7×5", e.Message);
        Assert.Contains("1×3×5×7", e.Message);
        e = Assert.Throws<ArgumentException>(() => TotalVariation.Forward(x, dx, 1f));
        Assert.Contains("1×3×5×7", e.Message);
        Assert.Contains("1×1×1×1", e.Message);
    }
}
