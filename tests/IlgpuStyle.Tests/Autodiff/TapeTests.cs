using IlgpuStyle.Autodiff;
using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Autodiff;

public class TapeTests(ITestOutputHelper log)
{
    private static readonly Shape4 ImageShape = Shape4.Image(3, 9, 7);

    /// <summary>
    /// L(x) = 3·MSE(Gram(maxpool(conv+ReLU(x))), T) + 0.5·MSE(conv+ReLU(x), C) + 0.01·TV(x), with the image in
    /// preprocessed space (channel affine first). The tape's gradient must match central finite differences of
    /// the same forward pass.
    /// </summary>
    private sealed class Composite : IDisposable
    {
        private readonly Gpu gpu;
        private readonly Tensor weight, bias, gramTarget, contentTarget;
        private static readonly ChannelAffine.Coefficients Pre = new(2, 1, 0, 2f, 1.5f, 1f, -0.5f, 0.25f, 0f);
        public readonly Tape Tape;

        public Composite(Gpu gpu)
        {
            this.gpu = gpu;
            weight = gpu.FromHost(new Shape4(5, 3, 3, 3), TestData.Uniform(11, 5 * 3 * 9, -0.5f, 0.5f));
            bias = gpu.FromHost(Shape4.Vector(5), TestData.Uniform(12, 5, -0.1f, 0.3f));
            gramTarget = gpu.FromHost(new Shape4(1, 1, 5, 5), TestData.Uniform(13, 25, 0f, 0.2f));
            contentTarget = gpu.FromHost(Shape4.Image(5, 9, 7), TestData.Uniform(14, 5 * 63, 0f, 1f));
            Tape = new Tape(gpu);
        }

        public (Variable Loss, Variable Input) Record(Tensor image)
        {
            Tape.Reset();
            var x = Tape.Input(image);
            var pre = Tape.ChannelAffine(x, Pre);
            var features = Tape.Conv2d(pre, weight, bias, Conv2dParams.Same3x3, relu: true);
            var pooled = Tape.Pool2x2(features, PoolingKind.Max);
            var gram = Tape.Gram(pooled, 1f / pooled.Shape.Count);
            var loss = Tape.Total(
                Tape.MseLoss(gram, gramTarget, 3f),
                Tape.MseLoss(features, contentTarget, 0.5f),
                Tape.TotalVariationLoss(x, 0.01f));
            return (loss, x);
        }

        public double Evaluate(float[] pixels)
        {
            using var image = gpu.FromHost(ImageShape, pixels);
            return Record(image).Loss.Value.ToScalar();
        }

        public void Dispose()
        {
            Tape.Dispose();
            foreach (var t in new[] { weight, bias, gramTarget, contentTarget }) t.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void CompositeGradientMatchesFiniteDifferences(string device)
    {
        var gpu = Devices.Get(device);
        using var f = new Composite(gpu);
        var pixels = TestData.Uniform(21, ImageShape.Count, 0f, 1f);
        using var image = gpu.FromHost(ImageShape, pixels);
        var (loss, input) = f.Record(image);
        f.Tape.Backward(loss);
        var analytic = input.Grad!.ToHost();

        var numeric = FiniteDifferences.Gradient(p => f.Evaluate(p), pixels, 3e-3f).Select(v => (float)v).ToArray();
        double rel = Check.RelativeL2(numeric, analytic);
        log.WriteLine($"tape composite [{device}]: ‖g_tape − g_fd‖/‖g_fd‖ = {rel:E2} over {pixels.Length} pixels, ‖g‖₂ = {Math.Sqrt(numeric.Sum(v => (double)v * v)):E2}");
        // Finite differences of a float32 forward with h = 3e-3 (measured 2.4e-4 to 2.8e-4); an occasional
        // ReLU/max-pool kink inside [x−h, x+h] is what the margin is for.
        Assert.True(rel < 2e-3, $"tape gradient differs from finite differences by {rel:E2} (relative L2)");
        int close = analytic.Zip(numeric, (a, n) => Math.Abs(a - n) <= 2e-3 + 2e-2 * Math.Abs(n)).Count(ok => ok);
        Assert.True(close >= pixels.Length * 0.97, $"only {close}/{pixels.Length} gradient elements within tolerance");
    }

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void SecondStepAllocatesNothing(string device)
    {
        var gpu = Devices.Get(device);
        using var f = new Composite(gpu);
        using var image = gpu.FromHost(ImageShape, TestData.Uniform(22, ImageShape.Count, 0f, 1f));
        var (loss, _) = f.Record(image);
        f.Tape.Backward(loss);
        float first = loss.Value.ToScalar();
        long before = gpu.AllocationCount;
        (loss, var input) = f.Record(image);
        f.Tape.Backward(loss);
        Assert.Equal(first, loss.Value.ToScalar());
        Assert.NotNull(input.Grad);
        Assert.Equal(before, gpu.AllocationCount);
    }

    [Fact]
    public void GradientsAccumulateOverSeveralConsumers()
    {
        // L = 1·MSE(x, 0) + 2·MSE(x, 0) → dL/dx = 3 · 2x/n : x feeds two loss terms.
        var gpu = Devices.Get("cpu");
        var shape = Shape4.Image(2, 3, 4);
        var pixels = TestData.Uniform(5, shape.Count);
        using var image = gpu.FromHost(shape, pixels);
        using var zero = gpu.Allocate(shape);
        zero.Fill(0f);
        using var tape = new Tape(gpu);
        var x = tape.Input(image);
        var loss = tape.Total(tape.MseLoss(x, zero, 1f), tape.MseLoss(x, zero, 2f));
        tape.Backward(loss);
        var expected = pixels.Select(v => 3f * 2f * v / shape.Count).ToArray();
        Check.Close(expected, x.Grad!.ToHost(), 1e-6, 1e-7, "two consumers", log);
    }

    [Fact]
    public void MisuseIsRejectedWithClearErrors()
    {
        var gpu = Devices.Get("cpu");
        using var tape = new Tape(gpu);
        using var image = gpu.Allocate(Shape4.Image(3, 4, 4));
        image.Fill(0.5f);
        var x = tape.Input(image);
        Assert.Throws<ArgumentException>(() => tape.Backward(tape.Relu(x)));
        var loss = tape.TotalVariationLoss(x, 1f);
        Assert.Throws<InvalidOperationException>(() => tape.Relu(loss).ToString());
        tape.Backward(loss);
        Assert.Throws<InvalidOperationException>(() => tape.Backward(loss));
    }
}
