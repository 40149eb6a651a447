using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

public class TotalVariationTests(ITestOutputHelper log)
{
    // 1×3×1×6 and 1×2×5×1 have no vertical or no horizontal pairs.
    public static readonly TheoryData<string, int, int, int> DevicesAndShapes = Devices.WithShapes((3, 7, 5), (13, 17, 19), (3, 1, 6), (2, 5, 1));

    // Loss: float reduction vs a double sum, rtol 1e-5. Gradient: ≤ 4 float differences per pixel, rtol 1e-5, atol 1e-6.
    // Finite differences of the double reference loss (h = 1e-5; quadratic): rtol 1e-5, atol 5e-6 (gradients up to ~10).
    private static OpCase Tv(Shape4 s, float weight) =>
        new($"total variation {s}", [s], Shape4.Scalar, (x, loss) => TotalVariation.Forward(x[0], loss, weight),
            x => [LossReference.TotalVariation(x[0], s, weight)], new(1e-5, 1e-7))
        {
            Loss = true, Grads = [0],
            Backward = (x, _, _, dx, accumulate) => TotalVariation.Backward(x[0], dx[0], weight, accumulate),
            ReferenceBackward = (x, _) => [LossReference.TotalVariationBackward(x[0], s, weight)],
            BackwardTol = new(1e-5, 1e-6), AccumulateTol = new(1e-5, 1e-6), FiniteDifferencesTol = new(1e-5, 5e-6),
        };

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void ForwardAndBackwardMatchReference(string device, int c, int h, int w) =>
        OpHarness.ForwardAndBackward(device, Tv(Shape4.Image(c, h, w), 0.3f), seed: 91, log);

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

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void BackwardMatchesFiniteDifferences(string device) =>
        OpHarness.FiniteDifferences(device, Tv(Shape4.Image(2, 4, 5), 1.3f), seed: 93, log);

    [Fact]
    public void MismatchedShapesNameBothShapes()
    {
        var gpu = Devices.Get("cpu");
        using var x = gpu.Allocate(new Shape4(1, 3, 7, 5));
        using var dx = gpu.Allocate(new Shape4(1, 3, 5, 7));
        Check.NamesShapes(() => TotalVariation.Backward(x, dx, 1f, false), "1×3×7×5", "1×3×5×7");
        Check.NamesShapes(() => TotalVariation.Forward(x, dx, 1f), "1×3×5×7", "1×1×1×1");
    }
}
