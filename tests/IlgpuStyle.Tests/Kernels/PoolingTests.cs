using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;
using static IlgpuStyle.Tests.OpData;

namespace IlgpuStyle.Tests.Kernels;

public class PoolingTests(ITestOutputHelper log)
{
    // Odd H and W (dropped last row/column) and an even shape.
    public static readonly TheoryData<string, int, int, int> DevicesAndShapes = Devices.WithShapes((3, 7, 5), (13, 17, 19), (2, 8, 6));

    // Tolerances: max pooling and its gradient copy values (exact, 0); the average is a float sum of four
    // values (rtol 1e-6, atol 1e-7) and dy/4 is exact; accumulating adds one float rounding (rtol 1e-6).
    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void MaxPoolMatchesReference(string device, int c, int h, int w)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(c, h, w);
        var pooled = Pooling.OutputShape(shape);
        var x = TestData.Uniform(11, shape.Count);
        var dy = TestData.Uniform(12, pooled.Count);
        var prior = TestData.Uniform(13, shape.Count);
        using var tx = gpu.FromHost(shape, x);
        using var ty = gpu.Allocate(pooled);
        using var tdy = gpu.FromHost(pooled, dy);
        using var tdx = gpu.FromHost(shape, NaNs(shape.Count));

        Pooling.MaxForward(tx, ty);
        Check.Close(PoolingReference.MaxForward(D(x), shape), ty.ToHost(), 0, 0, $"max pool {shape} [{device}]", log);

        var dx = PoolingReference.MaxBackward(D(x), shape, D(dy));
        Pooling.MaxBackward(tx, ty, tdy, tdx, accumulate: false);
        Check.Close(dx, tdx.ToHost(), 0, 0, $"max pool backward {shape} [{device}]", log);

        tdx.CopyFromHost(prior);
        Pooling.MaxBackward(tx, ty, tdy, tdx, accumulate: true);
        Check.Close(Add(prior, dx), tdx.ToHost(), 1e-6, 1e-7, $"max pool backward accumulate {shape} [{device}]", log);
    }

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void AvgPoolMatchesReference(string device, int c, int h, int w)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(c, h, w);
        var pooled = Pooling.OutputShape(shape);
        var x = TestData.Uniform(21, shape.Count);
        var dy = TestData.Uniform(22, pooled.Count);
        var prior = TestData.Uniform(23, shape.Count);
        using var tx = gpu.FromHost(shape, x);
        using var ty = gpu.Allocate(pooled);
        using var tdy = gpu.FromHost(pooled, dy);
        using var tdx = gpu.FromHost(shape, NaNs(shape.Count));

        Pooling.AvgForward(tx, ty);
        Check.Close(PoolingReference.AvgForward(D(x), shape), ty.ToHost(), 1e-6, 1e-7, $"avg pool {shape} [{device}]", log);

        var dx = PoolingReference.AvgBackward(shape, D(dy));
        Pooling.AvgBackward(tdy, tdx, accumulate: false);
        Check.Close(dx, tdx.ToHost(), 0, 0, $"avg pool backward {shape} [{device}]", log);

        tdx.CopyFromHost(prior);
        Pooling.AvgBackward(tdy, tdx, accumulate: true);
        Check.Close(Add(prior, dx), tdx.ToHost(), 1e-6, 1e-7, $"avg pool backward accumulate {shape} [{device}]", log);
    }

    // Values from {0, 1, 2} make most windows contain ties: the gradient must go to the first maximum
    // in row-major order only (the reference scans with a strict >). Exact.
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void MaxPoolTiesGoToFirstMaximum(string device)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(3, 7, 9);
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

    // Finite differences of L = Σ r ⊙ pool(x) on the double reference (h = 1e-5). Max pooling gets distinct
    // values 0.01 apart, so no window's argmax changes within ±h. Both ops are piecewise linear: tolerance 1e-6.
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void BackwardMatchesFiniteDifferences(string device)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(2, 5, 7);
        var pooled = Pooling.OutputShape(shape);
        var x = Distinct(41, shape.Count);
        var r = TestData.Uniform(42, pooled.Count);
        using var tx = gpu.FromHost(shape, x);
        using var ty = gpu.Allocate(pooled);
        using var tr = gpu.FromHost(pooled, r);
        using var tdx = gpu.Allocate(shape);

        var numeric = ProjectedFiniteDifferences.Gradient(v => PoolingReference.MaxForward(v, shape), D(x), D(r));
        Pooling.MaxForward(tx, ty);
        Pooling.MaxBackward(tx, ty, tr, tdx, accumulate: false);
        Check.Close(numeric, tdx.ToHost(), 1e-6, 1e-6, $"max pool backward vs finite differences [{device}]", log);

        numeric = ProjectedFiniteDifferences.Gradient(v => PoolingReference.AvgForward(v, shape), D(x), D(r));
        Pooling.AvgBackward(tr, tdx, accumulate: false);
        Check.Close(numeric, tdx.ToHost(), 1e-6, 1e-6, $"avg pool backward vs finite differences [{device}]", log);
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
        {
            var e = Assert.Throws<ArgumentException>(act);
            Assert.Contains("1×3×7×5", e.Message);
            Assert.Contains("1×3×2×2", e.Message);
        }
        var d = Assert.Throws<ArgumentException>(() => Pooling.MaxBackward(x, good, good, dx, false));
        Assert.Contains("1×3×7×5", d.Message);
        Assert.Contains("1×3×5×7", d.Message);
    }
}
