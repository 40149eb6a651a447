using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

public class LossesTests(ITestOutputHelper log)
{
    public static readonly TheoryData<string, int, int, int> DevicesAndShapes = Devices.WithShapes((3, 7, 5), (13, 17, 19));

    // weight · mean((a − t)²) of inputs (a, t); the gradient is for a only.
    // Loss: float reduction of ≤ 4199 terms vs a double sum, rtol 1e-5. Gradient: one float multiply, rtol 1e-6.
    // Finite differences of the double reference loss (h = 1e-5; quadratic, exact up to rounding); rtol 1e-5, atol 1e-7.
    private static OpCase Mse(Shape4 s, float weight) =>
        new($"mse {s}", [s, s], Shape4.Scalar, (x, loss) => Losses.Mse(x[0], x[1], loss, weight),
            x => [LossReference.Mse(x[0], x[1], weight)], new(1e-5, 1e-7))
        {
            Loss = true, InputNames = ["a", "t"], Grads = [0],
            Backward = (x, _, _, da, accumulate) => Losses.MseBackward(x[0], x[1], da[0], weight, accumulate),
            ReferenceBackward = (x, _) => [LossReference.MseBackward(x[0], x[1], weight)],
            BackwardTol = new(1e-6, 1e-9), AccumulateTol = new(1e-6, 1e-7), FiniteDifferencesTol = new(1e-5, 1e-7),
        };

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void MseMatchesReference(string device, int c, int h, int w) =>
        OpHarness.ForwardAndBackward(device, Mse(Shape4.Image(c, h, w), 2.5f), seed: 81, log);

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void MseBackwardMatchesFiniteDifferences(string device) =>
        OpHarness.FiniteDifferences(device, Mse(Shape4.Image(2, 3, 5), 0.8f), seed: 84, log);

    [Fact]
    public void MismatchedShapesNameBothShapes()
    {
        var gpu = Devices.Get("cpu");
        using var a = gpu.Allocate(new Shape4(1, 3, 7, 5));
        using var b = gpu.Allocate(new Shape4(1, 3, 5, 7));
        using var loss = gpu.Allocate(Shape4.Scalar);
        Check.NamesShapes(() => Losses.Mse(a, b, loss, 1f), "1×3×7×5", "1×3×5×7");
        Check.NamesShapes(() => Losses.MseBackward(a, a, b, 1f, false), "1×3×7×5", "1×3×5×7");
        Check.NamesShapes(() => Losses.Mse(a, a, b, 1f), "1×3×5×7", "1×1×1×1");
    }
}
