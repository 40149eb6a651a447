using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;
using static IlgpuStyle.Tests.OpData;

namespace IlgpuStyle.Tests.Kernels;

public class ReluTests(ITestOutputHelper log)
{
    public static readonly TheoryData<string, int, int, int> DevicesAndShapes = Devices.WithShapes((3, 7, 5), (13, 17, 19));

    // Tolerances: forward and backward select or copy values, so they must match exactly (0); the
    // accumulated gradient is one float add (rtol 1e-6). Finite differences of L = Σ r ⊙ relu(x) (h = 1e-5):
    // the function is piecewise linear, so central differences are exact up to rounding (1e-6).
    private static OpCase Op(Shape4 s) =>
        new($"relu {s}", [s], s, (x, y) => Relu.Forward(x[0], y), x => ReluReference.Forward(x[0]), Tol.Exact)
        {
            Grads = [0],
            Backward = (_, y, dy, dx, accumulate) => Relu.Backward(y, dy, dx[0], accumulate),
            ReferenceBackward = (x, dy) => [ReluReference.Backward(ReluReference.Forward(x[0]), dy)],
            BackwardTol = Tol.Exact, AccumulateTol = new(1e-6, 1e-7), FiniteDifferencesTol = new(1e-6, 1e-6),
        };

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void ForwardAndBackwardMatchReference(string device, int c, int h, int w) =>
        OpHarness.ForwardAndBackward(device, Op(Shape4.Image(c, h, w)), seed: 1, log);

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

    // Inputs kept ≥ 0.05 from the kink.
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void BackwardMatchesFiniteDifferences(string device) =>
        OpHarness.FiniteDifferences(device, Op(Shape4.Image(2, 3, 5)) with { Data = (seed, n) => AwayFromZero(seed, n) }, seed: 6, log);

    [Fact]
    public void MismatchedShapesNameBothShapes()
    {
        var gpu = Devices.Get("cpu");
        using var a = gpu.Allocate(new Shape4(1, 3, 7, 5));
        using var b = gpu.Allocate(new Shape4(1, 3, 5, 7));
        Check.NamesShapes(() => Relu.Forward(a, b), "1×3×7×5", "1×3×5×7");
        Check.NamesShapes(() => Relu.Backward(a, a, b, accumulate: false), "1×3×7×5", "1×3×5×7");
    }
}
