using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;
using static IlgpuStyle.Tests.OpData;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>The mean–covariance style loss: <see cref="Moments"/> and <see cref="GaussianW2"/> against the double reference.</summary>
public class GaussianW2Tests(ITestOutputHelper log)
{
    private const int Iterations = 12, TargetIterations = 20;
    private const float RelativeEpsilon = 1e-3f;

    /// <summary>C = 3, 37, 64 (OpenCL, CUDA) or 3, 13 (the CPU simulator, slow at the Newton–Schulz products) over 5×7 positions: fewer than C at 37 and 64, so Σ is singular but for ε, as VGG's deep layers at small images.</summary>
    public static TheoryData<string, int> DevicesAndChannels()
    {
        var data = new TheoryData<string, int>();
        foreach (var device in Devices.Names)
        foreach (int c in device == "cpu" ? [3, 13] : new[] { 3, 37, 64 })
            data.Add(device, c);
        return data;
    }

    // μ = F·1/P and S = F Fᵀ/P, and ∂/∂F = ((dS + dSᵀ)F + dμ1ᵀ)/P, against GaussianW2Reference.Moments and the
    // chain rule written out; sums of ≤ 2C + 1 products: rtol 1e-5, atol 1e-5.
    [Theory]
    [MemberData(nameof(DevicesAndChannels))]
    public void MomentsMatchReference(string device, int c)
    {
        var gpu = Devices.Get(device);
        var s = Shape4.Image(c, 5, 7);
        var f = TestData.Uniform(131, s.Count, 0f, 1f);
        var dMean = TestData.Uniform(132, c);
        var dSecond = TestData.Uniform(133, c * c);
        var prior = TestData.Uniform(134, s.Count);
        using var tf = gpu.FromHost(s, f);
        using var tm = gpu.FromHost(Moments.MeanShape(s), NaNs(c));
        using var ts = gpu.FromHost(MatMul.Shape(c, c), NaNs(c * c));
        Moments.Forward(tf, tm, ts, 1f / s.Plane);
        var (mean, second) = GaussianW2Reference.Moments(D(f), s, 1.0 / s.Plane);
        Check.Close(mean, tm.ToHost(), 1e-5, 1e-6, $"moments mean C={c} [{device}]", log);
        Check.Close(second, ts.ToHost(), 1e-5, 1e-6, $"moments second C={c} [{device}]", log);

        var expected = new double[s.Count];
        for (int i = 0; i < c; i++)
        for (int q = 0; q < s.Plane; q++)
        {
            double sum = dMean[i];
            for (int j = 0; j < c; j++) sum += ((double)dSecond[i * c + j] + dSecond[j * c + i]) * f[j * s.Plane + q];
            expected[i * s.Plane + q] = sum / s.Plane;
        }
        using var tdm = gpu.FromHost(Moments.MeanShape(s), dMean);
        using var tds = gpu.FromHost(MatMul.Shape(c, c), dSecond);
        using var df = gpu.FromHost(s, NaNs(s.Count));
        Moments.Backward(tf, tdm, tds, df, 1f / s.Plane, accumulate: false);
        Check.Close(expected, df.ToHost(), 1e-5, 1e-5, $"moments backward C={c} [{device}]", log);
        df.CopyFromHost(prior);
        Moments.Backward(tf, tdm, tds, df, 1f / s.Plane, accumulate: true);
        Check.Close(Add(prior, expected), df.ToHost(), 1e-5, 1e-5, $"moments backward accumulate C={c} [{device}]", log);
    }

    /// <summary>
    /// The loss of features F (input "f") against the target made from style features (input "s", a constant):
    /// moments, target (ε, the root by 20 steps), loss with 12 steps, and the gradient to F through Moments.Backward.
    /// </summary>
    private static OpCase Loss(Shape4 f, Shape4 style, float weight) =>
        new($"gaussian w2 {f} vs {style}", [f, style], Shape4.Scalar,
            (x, loss) => Evaluate(x[0], x[1], weight, loss, null, false),
            x => [GaussianW2Reference.LossOfFeatures(x[0], f, ReferenceTarget(x[1], style), weight, Iterations)],
            new(1e-4, 1e-6))
        {
            Loss = true, InputNames = ["f", "s"], Grads = [0],
            Data = (seed, n) => TestData.Uniform(seed, n, 0f, 1f),
            Backward = (x, _, _, df, accumulate) =>
            {
                using var loss = x[0].Gpu.Allocate(Shape4.Scalar);
                Evaluate(x[0], x[1], weight, loss, df[0], accumulate);
            },
            ReferenceBackward = (x, _) => [GaussianW2Reference.LossOfFeaturesGradient(x[0], f, ReferenceTarget(x[1], style), weight, Iterations)],
            BackwardTol = new(1e-3, 1e-5), AccumulateTol = new(1e-3, 1e-5), FiniteDifferencesTol = new(1e-3, 1e-5),
        };

    private static GaussianW2Reference.Target ReferenceTarget(double[] style, Shape4 s)
    {
        var (mean, second) = GaussianW2Reference.Moments(style, s, 1.0 / s.Plane);
        return GaussianW2Reference.MakeTarget(mean, second, RelativeEpsilon, TargetIterations);
    }

    private static void Evaluate(Tensor f, Tensor style, float weight, Tensor loss, Tensor? df, bool accumulate)
    {
        var gpu = f.Gpu;
        int c = f.Shape.C;
        using var mean = gpu.Allocate(Moments.MeanShape(f.Shape));
        using var second = gpu.Allocate(MatMul.Shape(c, c));
        using var dMean = gpu.Allocate(mean.Shape);
        using var dSecond = gpu.Allocate(second.Shape);
        Moments.Forward(style, mean, second, 1f / style.Shape.Plane);
        using var target = GaussianW2.Target(mean, second, RelativeEpsilon, TargetIterations);
        Moments.Forward(f, mean, second, 1f / f.Shape.Plane);
        GaussianW2.Loss(mean, second, target, weight, Iterations, loss, dMean, dSecond);
        if (df is not null) Moments.Backward(f, dMean, dSecond, df, 1f / f.Shape.Plane, accumulate);
    }

    // Loss: rtol 1e-4 (float Newton–Schulz; the terms of W₂² cancel in part). Gradient: rtol 1e-3, atol 1e-5.
    [Theory]
    [MemberData(nameof(DevicesAndChannels))]
    public void LossAndGradientMatchReference(string device, int c) =>
        OpHarness.ForwardAndBackward(device, Loss(Shape4.Image(c, 5, 7), Shape4.Image(c, 6, 5), 0.7f), seed: 141, log);

    // Central differences (h = 1e-5) of the double loss with respect to the features, against the device gradient:
    // C = 5 over 4×3 positions, and C = 6 over 2×2 (a rank-4 covariance, singular but for ε).
    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void GradientMatchesFiniteDifferences(string device)
    {
        OpHarness.FiniteDifferences(device, Loss(Shape4.Image(5, 4, 3), Shape4.Image(5, 3, 5), 1.3f), seed: 151, log);
        OpHarness.FiniteDifferences(device, Loss(Shape4.Image(6, 2, 2), Shape4.Image(6, 3, 3), 0.5f), seed: 152, log);
    }

    // W₂ of a distribution with itself is 0: features equal to the style's give a loss near 0 (K = 12 steps of a
    // root that the target's 20 steps made: |loss| ≤ 1e-3 of tr S_s) and a gradient near 0 (≤ 5 % of the gradient
    // at other features; what remains is the eigenvalues near ε that 12 steps do not converge).
    [Theory]
    [MemberData(nameof(DevicesAndChannels))]
    public void TheStyleItselfHasLossNearZero(string device, int c)
    {
        var gpu = Devices.Get(device);
        var s = Shape4.Image(c, 6, 5);
        using var style = gpu.FromHost(s, TestData.Uniform(161, s.Count, 0f, 1f));
        using var loss = gpu.Allocate(Shape4.Scalar);
        using var df = gpu.Allocate(s);
        Evaluate(style, style, 1f, loss, df, false);
        using var mean = gpu.Allocate(Moments.MeanShape(s));
        using var second = gpu.Allocate(MatMul.Shape(c, c));
        Moments.Forward(style, mean, second, 1f / s.Plane);
        using var target = GaussianW2.Target(mean, second, RelativeEpsilon, TargetIterations);
        float value = loss.ToScalar(), gradient = df.ToHost().Max(Math.Abs);
        using var other = gpu.FromHost(s, TestData.Uniform(162, s.Count, 0f, 1f));
        Evaluate(other, style, 1f, loss, df, false);
        float otherGradient = df.ToHost().Max(Math.Abs);
        log.WriteLine($"C={c} [{device}]: loss {value:E3} of tr S_s {target.SecondMomentTrace:E3}, max |∂/∂F| {gradient:E3} " +
                      $"(at other features {otherGradient:E3})");
        Assert.True(Math.Abs(value) <= 1e-3 * target.SecondMomentTrace, $"loss {value}");
        Assert.True(gradient <= 0.05 * otherGradient, $"max |gradient| {gradient} vs {otherGradient} at other features");
    }
}
