using IlgpuStyle.Kernels;
using IlgpuStyle.Kernels.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

public class ElementwiseAndReductionTests(ITestOutputHelper log)
{
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void AxpyScaleClampMatchCpuLoops(string device)
    {
        var gpu = Devices.Get(device);
        var shape = new Shape4(1, 3, 7, 5);
        var x = TestData.Uniform(1, shape.Count);
        var y = TestData.Uniform(2, shape.Count);
        using var tx = gpu.FromHost(shape, x);
        using var ty = gpu.FromHost(shape, y);

        Elementwise.Axpy(0.5f, tx, ty);
        var expected = y.Select((v, i) => v + 0.5f * x[i]).ToArray();
        Check.Close(expected, ty.ToHost(), 1e-6, 1e-6, $"axpy[{device}]", log);

        ReferenceElementwise.Axpby(2f, tx, -1f, ty);
        expected = expected.Select((v, i) => 2f * x[i] - v).ToArray();
        Check.Close(expected, ty.ToHost(), 1e-6, 1e-6, $"axpby[{device}]", log);

        Elementwise.Scale(ty, 3f);
        expected = expected.Select(v => 3f * v).ToArray();
        Check.Close(expected, ty.ToHost(), 1e-6, 1e-6, $"scale[{device}]", log);

        ReferenceElementwise.Clamp(ty, -0.25f, 0.5f);
        expected = expected.Select(v => Math.Clamp(v, -0.25f, 0.5f)).ToArray();
        Check.Close(expected, ty.ToHost(), 0, 0, $"clamp[{device}]", log);

        ReferenceElementwise.Multiply(tx, ty, ty);
        expected = expected.Select((v, i) => v * x[i]).ToArray();
        Check.Close(expected, ty.ToHost(), 1e-6, 1e-7, $"multiply[{device}]", log);
    }

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void SumAndDotMatchDoublePrecisionLoops(string device)
    {
        var gpu = Devices.Get(device);
        // 1, a prime, and a size larger than groups × partials so the grid-stride loop wraps.
        foreach (int n in new[] { 1, 1013, 300_007 })
        {
            var x = TestData.Uniform(n, n);
            var y = TestData.Uniform(n + 1, n);
            using var tx = gpu.FromHost(Shape4.Vector(n), x);
            using var ty = gpu.FromHost(Shape4.Vector(n), y);
            using var r = gpu.Allocate(Shape4.Scalar);
            Reduction.Sum(tx, r, 2f);
            double sum = 2 * x.Sum(v => (double)v);
            Check.Close(new[] { (float)sum }, r.ToHost(), 1e-5, 1e-4, $"sum n={n} [{device}]", log);
            double dot = x.Zip(y, (a, b) => (double)a * b).Sum();
            Check.Close(new[] { (float)dot }, new[] { Reduction.DotToHost(tx, ty, r) }, 1e-5, 1e-4, $"dot n={n} [{device}]", log);
        }
    }

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ReductionIsBitwiseDeterministic(string device)
    {
        var gpu = Devices.Get(device);
        var x = TestData.Uniform(7, 123_457);
        using var tx = gpu.FromHost(Shape4.Vector(x.Length), x);
        using var r = gpu.Allocate(Shape4.Scalar);
        Reduction.Sum(tx, r);
        float first = r.ToScalar();
        for (int i = 0; i < 3; i++)
        {
            Reduction.Sum(tx, r);
            Assert.Equal(BitConverter.SingleToInt32Bits(first), BitConverter.SingleToInt32Bits(r.ToScalar()));
        }
    }

    [Fact]
    public void MismatchedShapesNameBothShapes()
    {
        var gpu = Devices.Get("cpu");
        using var a = gpu.Allocate(new Shape4(1, 3, 7, 5));
        using var b = gpu.Allocate(new Shape4(1, 3, 5, 7));
        var e = Assert.Throws<ArgumentException>(() => Elementwise.Axpy(1f, a, b));
        Assert.Contains("1×3×7×5", e.Message);
        Assert.Contains("1×3×5×7", e.Message);
    }
}
