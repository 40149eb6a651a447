using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;
using static IlgpuStyle.Tests.OpData;

namespace IlgpuStyle.Tests.Kernels;

public class PoolingTests(ITestOutputHelper log)
{
    // Odd H and W (dropped last row/column) and an even shape; rows of at least a group of windows (the max
    // backward's unchecked launch), with (35 windows: a group and 3 checked, odd height) and without a checked rest.
    public static readonly TheoryData<string, int, int, int> DevicesAndShapes =
        Devices.WithShapes((3, 7, 5), (13, 17, 19), (2, 8, 6), (3, 9, 70), (2, 6, 64));

    // Tolerances: max pooling and its gradient copy values (exact, 0); the average is a float sum of four
    // values (rtol 1e-6, atol 1e-7) and dy/4 is exact; accumulating adds one float rounding (rtol 1e-6).
    // Finite differences of L = Σ r ⊙ pool(x) (h = 1e-5): both ops are piecewise linear, tolerance 1e-6.
    private static OpCase MaxPool(Shape4 s) =>
        new($"max pool {s}", [s], Pooling.OutputShape(s), (x, y) => Pooling.MaxForward(x[0], y),
            x => PoolingReference.MaxForward(x[0], s), Tol.Exact)
        {
            Grads = [0],
            Backward = (x, y, dy, dx, accumulate) => Pooling.MaxBackward(x[0], y, dy, dx[0], accumulate),
            ReferenceBackward = (x, dy) => [PoolingReference.MaxBackward(x[0], s, dy)],
            BackwardTol = Tol.Exact, AccumulateTol = new(1e-6, 1e-7), FiniteDifferencesTol = new(1e-6, 1e-6),
        };

    private static OpCase AvgPool(Shape4 s) =>
        new($"avg pool {s}", [s], Pooling.OutputShape(s), (x, y) => Pooling.AvgForward(x[0], y),
            x => PoolingReference.AvgForward(x[0], s), new(1e-6, 1e-7))
        {
            Grads = [0],
            Backward = (_, _, dy, dx, accumulate) => Pooling.AvgBackward(dy, dx[0], accumulate),
            ReferenceBackward = (_, dy) => [PoolingReference.AvgBackward(s, dy)],
            BackwardTol = Tol.Exact, AccumulateTol = new(1e-6, 1e-7), FiniteDifferencesTol = new(1e-6, 1e-6),
        };

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void MaxPoolMatchesReference(string device, int c, int h, int w) =>
        OpHarness.ForwardAndBackward(device, MaxPool(Shape4.Image(c, h, w)), seed: 11, log);

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void AvgPoolMatchesReference(string device, int c, int h, int w) =>
        OpHarness.ForwardAndBackward(device, AvgPool(Shape4.Image(c, h, w)), seed: 21, log);

    // Values from {0, 1, 2} make most windows contain ties: the gradient must go to the first maximum
    // in row-major order only (the reference scans with a strict >). Exact.
    // Widths 75 (37 windows a row: whole groups unchecked on floats, the rest and the odd row checked) and 74 (the
    // whole groups on 64-bit words).
    public static readonly TheoryData<string, int> DevicesAndTieWidths = Devices.With(75, 74);

    [Theory]
    [MemberData(nameof(DevicesAndTieWidths))]
    public void MaxPoolTiesGoToFirstMaximum(string device, int width)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(3, 7, width);
        var pooled = Pooling.OutputShape(shape);
        var rng = new Random(31);
        var x = Enumerable.Range(0, shape.Count).Select(_ => (float)rng.Next(3)).ToArray();
        var dy = TestData.Uniform(32, pooled.Count);
        using var tx = gpu.FromHost(shape, x);
        using var ty = gpu.Allocate(pooled);
        using var tdy = gpu.FromHost(pooled, dy);
        using var tdx = gpu.Allocate(shape);
        Pooling.MaxForward(tx, ty);
        Pooling.MaxBackward(tx, ty, tdy, tdx, accumulate: false);
        var dx = tdx.ToHost();
        Check.Close(PoolingReference.MaxBackward(D(x), shape, D(dy)), dx, 0, 0, $"max pool backward with ties [{device}]", log);
        // Each window passes its gradient to exactly one input.
        Assert.Equal(pooled.Count, dx.Count(v => v != 0));
    }

    // Max pooling gets distinct values 0.01 apart, so no window's argmax changes within ±h.
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void BackwardMatchesFiniteDifferences(string device)
    {
        var shape = Shape4.Image(2, 5, 7);
        OpHarness.FiniteDifferences(device, MaxPool(shape) with { Data = (seed, n) => Distinct(seed, n) }, seed: 41, log);
        OpHarness.FiniteDifferences(device, AvgPool(shape) with { Data = (seed, n) => Distinct(seed, n) }, seed: 41, log);
    }

    [Fact]
    public void MismatchedShapesNameBothShapes()
    {
        var gpu = Devices.Get("cpu");
        using var x = gpu.Allocate(new Shape4(1, 3, 7, 5));
        using var y = gpu.Allocate(new Shape4(1, 3, 2, 2)); // 7×5 pools to 3×2
        using var dx = gpu.Allocate(new Shape4(1, 3, 5, 7));
        using var good = gpu.Allocate(new Shape4(1, 3, 3, 2));
        foreach (var act in new Action[]
                 {
                     () => Pooling.MaxForward(x, y), () => Pooling.AvgForward(x, y),
                     () => Pooling.MaxBackward(x, good, y, dx, false), () => Pooling.AvgBackward(y, x, false),
                 })
            Check.NamesShapes(act, "1×3×7×5", "1×3×2×2");
        Check.NamesShapes(() => Pooling.MaxBackward(x, good, good, dx, false), "1×3×7×5", "1×3×5×7");
    }
}
