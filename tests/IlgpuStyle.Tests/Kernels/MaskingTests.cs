using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;
using static IlgpuStyle.Tests.OpData;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// Spatial control's kernels (Masking.Multiply, GuidedGram) against MaskReference on every device, odd shapes (C and
/// H·W no multiple of any tile; a single row), and their backward against finite differences — also through the
/// guided style loss w·mean((G − A)²), whose gradient the stylization uses. Masks are weights in [0, 1] with a third
/// of them exactly 0 (a binary mask's outside).
/// </summary>
public class MaskingTests(ITestOutputHelper log)
{
    public static readonly TheoryData<string, int, int, int> DevicesAndShapes = Devices.WithShapes((3, 7, 5), (13, 17, 19), (37, 1, 23));

    private static float[] Mask(int seed, int n) =>
        TestData.Uniform(seed, n, 0f, 1f).Select((v, i) => i % 3 == 1 ? 0f : v).ToArray();

    /// <summary>Runs <paramref name="run"/> with a device copy of the mask and an F-shaped scratch tensor, then frees them.</summary>
    private static void WithMask(Tensor f, float[] mask, Action<Tensor, Tensor> run)
    {
        var gpu = f.Gpu;
        using var m = gpu.FromHost(Shape4.Image(1, f.Shape.H, f.Shape.W), mask);
        using var scratch = gpu.Allocate(f.Shape);
        run(m, scratch);
        gpu.Synchronize();
    }

    // y = m^e ∘ x (e = 1 or 2) and its backward dx = m^e ∘ dy: one multiply per element, rtol 1e-6.
    private static OpCase Multiply(Shape4 s, bool squared)
    {
        var mask = Mask(5, s.Plane);
        return new($"mask multiply {s} squared={squared}", [s], s,
            (x, y) => WithMask(x[0], mask, (m, _) => Masking.Multiply(x[0], m, y, squared)),
            x => MaskReference.Multiply(x[0], D(mask), s, squared), new(1e-6, 1e-7))
        {
            Grads = [0],
            Backward = (_, _, dy, dx, accumulate) => WithMask(dy, mask, (m, _) => Masking.Multiply(dy, m, dx[0], squared, accumulate)),
            ReferenceBackward = (_, dy) => [MaskReference.Multiply(dy, D(mask), s, squared)],
            BackwardTol = new(1e-6, 1e-7), AccumulateTol = new(1e-6, 1e-7), FiniteDifferencesTol = new(1e-5, 1e-7),
        };
    }

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void MultiplyMatchesReference(string device, int c, int h, int w)
    {
        foreach (bool squared in new[] { false, true })
            OpHarness.ForwardAndBackward(device, Multiply(Shape4.Image(c, h, w), squared), seed: 11, log);
    }

    // G = scale·Σ_p m² F Fᵀ (Masking + the device's Gram kernel) and df = m² ∘ scale·(dG + dGᵀ)·F, tolerances of GramTests.
    private static OpCase Guided(Shape4 s, float scale)
    {
        var mask = Mask(7, s.Plane);
        return new($"guided gram {s}", [s], Gram.OutputShape(s),
            (f, g) => WithMask(f[0], mask, (m, scratch) => GuidedGram.Forward(f[0], m, g, scale, scratch)),
            f => MaskReference.GuidedGram(f[0], D(mask), s, scale), new(1e-5, 1e-6))
        {
            InputNames = ["f"], Grads = [0],
            Backward = (f, _, dG, df, accumulate) =>
                WithMask(f[0], mask, (m, scratch) => GuidedGram.Backward(f[0], m, dG, df[0], scale, accumulate, scratch)),
            ReferenceBackward = (f, dG) => [MaskReference.GuidedGramBackward(f[0], D(mask), s, dG, scale)],
            BackwardTol = new(1e-5, 5e-6), AccumulateTol = new(1e-5, 5e-6), FiniteDifferencesTol = new(1e-5, 1e-6),
        };
    }

    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void GuidedGramMatchesReference(string device, int c, int h, int w) =>
        OpHarness.ForwardAndBackward(device, Guided(Shape4.Image(c, h, w), 0.37f), seed: 21, log);

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void GuidedGramBackwardMatchesFiniteDifferences(string device) =>
        OpHarness.FiniteDifferences(device, Guided(Shape4.Image(5, 3, 7), 0.7f), seed: 31, log);

    // The style term as the stylization computes it: L = w·mean((G − A)²), G guided with scale 1/(C·Σm²); backward
    // dG = Losses.MseBackward, then GuidedGram.Backward. Finite differences of the double reference (h = 1e-5; L is
    // quartic in F, so the central difference is exact to O(h²)): rtol 1e-4, atol 1e-7.
    private static OpCase GuidedLoss(Shape4 s, float weight)
    {
        var mask = Mask(9, s.Plane);
        float scale = (float)(1.0 / (s.C * mask.Sum(v => (double)v * v)));
        var target = TestData.Uniform(10, s.C * s.C, 0f, 0.5f);
        void Forward(Tensor f, Tensor loss, Tensor m, Tensor scratch)
        {
            using var g = f.Gpu.Allocate(Gram.OutputShape(s));
            using var a = f.Gpu.FromHost(g.Shape, target);
            GuidedGram.Forward(f, m, g, scale, scratch);
            Losses.Mse(g, a, loss, weight);
            f.Gpu.Synchronize();
        }
        return new($"guided style loss {s}", [s], Shape4.Scalar,
            (f, loss) => WithMask(f[0], mask, (m, scratch) => Forward(f[0], loss, m, scratch)),
            f => [MaskReference.GuidedLoss(f[0], D(mask), s, scale, D(target), weight)], new(1e-5, 1e-7))
        {
            Loss = true, InputNames = ["f"], Grads = [0],
            Backward = (f, _, _, df, accumulate) => WithMask(f[0], mask, (m, scratch) =>
            {
                using var g = f[0].Gpu.Allocate(Gram.OutputShape(s));
                using var a = f[0].Gpu.FromHost(g.Shape, target);
                using var dG = f[0].Gpu.Allocate(g.Shape);
                GuidedGram.Forward(f[0], m, g, scale, scratch);
                Losses.MseBackward(g, a, dG, weight, accumulate: false);
                GuidedGram.Backward(f[0], m, dG, df[0], scale, accumulate, scratch);
                f[0].Gpu.Synchronize();
            }),
            FiniteDifferencesTol = new(1e-4, 1e-7),
        };
    }

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void GuidedStyleLossGradientMatchesFiniteDifferences(string device) =>
        OpHarness.FiniteDifferences(device, GuidedLoss(Shape4.Image(4, 3, 5), 3f), seed: 41, log);

    [Fact]
    public void AMaskOfTheWrongShapeNamesBothShapes()
    {
        var gpu = Devices.Get("cpu");
        using var x = gpu.Allocate(new Shape4(1, 3, 7, 5));
        using var m = gpu.Allocate(new Shape4(1, 1, 5, 7));
        using var y = gpu.Allocate(x.Shape);
        Check.NamesShapes(() => Masking.Multiply(x, m, y), "1×1×5×7", "1×1×7×5");
        using var scratch = gpu.Allocate(new Shape4(1, 3, 5, 7));
        using var g = gpu.Allocate(new Shape4(1, 1, 3, 3));
        Check.NamesShapes(() => GuidedGram.Forward(x, m, g, 1f, scratch), "1×3×7×5", "1×3×5×7");
    }
}
