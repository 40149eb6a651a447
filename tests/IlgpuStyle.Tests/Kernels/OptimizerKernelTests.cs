using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>The elementwise kernels added for the optimizers: |x|, the fused Adam update and the iterate average.</summary>
public class OptimizerKernelTests(ITestOutputHelper log)
{
    public static readonly TheoryData<string, int, int, int> DevicesAndShapes = Devices.WithShapes((3, 7, 5), (13, 17, 19));

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void AbsMatchesMathAbs(string device, int c, int h, int w)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(c, h, w);
        var x = TestData.Uniform(c * h * w, shape.Count);
        x[0] = -0f;
        using var tx = gpu.FromHost(shape, x);
        using var ty = gpu.Allocate(shape);
        Elementwise.Abs(tx, ty);
        Check.Close(x.Select(Math.Abs).ToArray(), ty.ToHost(), 0, 0, $"abs {shape} [{device}]", log);
        Elementwise.Abs(tx, tx); // in place
        Check.Close(x.Select(Math.Abs).ToArray(), tx.ToHost(), 0, 0, $"abs in place {shape} [{device}]", log);
    }

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void AdamUpdateMatchesDoublePrecisionReference(string device, int c, int h, int w)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(c, h, w);
        int n = shape.Count;
        const double lr = 0.05, beta1 = 0.8, beta2 = 0.95, eps = 1e-3; // non-default values so each one matters
        var x = TestData.Uniform(1, n);
        using var tx = gpu.FromHost(shape, x);
        using var tg = gpu.Allocate(shape);
        using var tm = gpu.Allocate(shape);
        using var tv = gpu.Allocate(shape);
        tm.Fill(0f);
        tv.Fill(0f);
        double[] rx = FiniteDifferences.ToDouble(x), rm = new double[n], rv = new double[n];
        for (int t = 1; t <= 4; t++)
        {
            var g = TestData.Uniform(100 + t, n, -2f, 2f);
            tg.CopyFromHost(g);
            Elementwise.AdamUpdate(tx, tg, tm, tv, (float)beta1, (float)beta2,
                (float)(lr / (1 - Math.Pow(beta1, t))), (float)Math.Sqrt(1 - Math.Pow(beta2, t)), (float)eps);
            AdamReference.Step(rx, FiniteDifferences.ToDouble(g), rm, rv, t, lr, beta1, beta2, eps);
        }
        Check.Close(rx, tx.ToHost(), 1e-5, 1e-6, $"adam x after 4 steps {shape} [{device}]", log);
        Check.Close(rm, tm.ToHost(), 1e-5, 1e-6, $"adam m {shape} [{device}]", log);
        Check.Close(rv, tv.ToHost(), 1e-5, 1e-6, $"adam v {shape} [{device}]", log);
    }

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void IterateAverageMatchesTheBiasCorrectedEmaReference(string device, int c, int h, int w)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Image(c, h, w);
        int n = shape.Count;
        const float decay = 0.8f;
        using var tx = gpu.Allocate(shape);
        using var average = gpu.Allocate(shape);
        using var output = gpu.Allocate(shape);
        average.Fill(0f);
        var reference = new IterateAverageReference(n, decay);
        for (int t = 1; t <= 5; t++)
        {
            var x = TestData.Uniform(200 + t, n);
            tx.CopyFromHost(x);
            Elementwise.IterateAverage(tx, average, output, decay, (float)(1 / (1 - Math.Pow(decay, t))));
            reference.Update(x);
        }
        Check.Close(reference.Value, average.ToHost(), 1e-5, 1e-6, $"average after 5 updates {shape} [{device}]", log);
        Check.Close(reference.Get(), output.ToHost(), 1e-5, 1e-6, $"bias-corrected output {shape} [{device}]", log);

        // In place (output = x), as IterateAveraging never does but the kernel allows: one more update.
        var last = TestData.Uniform(300, n);
        tx.CopyFromHost(last);
        Elementwise.IterateAverage(tx, average, tx, decay, (float)(1 / (1 - Math.Pow(decay, 6))));
        reference.Update(last);
        Check.Close(reference.Get(), tx.ToHost(), 1e-5, 1e-6, $"in place {shape} [{device}]", log);
    }

    [Fact]
    public void AdamUpdateNamesMismatchedShapes()
    {
        var gpu = Devices.Get("cpu");
        using var a = gpu.Allocate(new Shape4(1, 3, 7, 5));
        using var b = gpu.Allocate(new Shape4(1, 3, 5, 7));
        var e = Assert.Throws<ArgumentException>(() => Elementwise.AdamUpdate(a, a, a, b, 0.9f, 0.99f, 1f, 1f, 1e-8f));
        Assert.Contains("1×3×7×5", e.Message);
        Assert.Contains("1×3×5×7", e.Message);
    }
}
