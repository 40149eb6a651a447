using IlgpuStyle.Autodiff;
using IlgpuStyle.Bench;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Guided;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Tests.Imaging;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Stylize;

/// <summary>
/// The masked (guided) style term in the objective (GuidedStyleTerms through GatysLoss): the mask pyramid is VGG's
/// average pooling of the mask (odd sizes floored) and a region that vanishes at a depth drops its term; an all-white
/// mask gives the unmasked objective; the blend weights scale each style's term (normalised to mean 1); and the whole
/// objective's gradient agrees with central differences of its value along random directions. Random VGG19 weights,
/// truncated at relu3_1, on OpenCL (the pyramid on every device).
/// </summary>
public sealed class GuidedStyleTests(ITestOutputHelper log)
{
    private static readonly string[] StyleLayers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1"];

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void TheMaskIsAveragePooledAtEveryVggPoolingAndAVanishedRegionHasNoTerm(string device)
    {
        var gpu = Devices.Get(device);
        const int w = 45, h = 31;
        var soft = TestData.Uniform(2, w * h, 0f, 1f).Select((v, i) => i % 4 == 0 ? 0f : v).ToArray();
        // Only the last row: row 30, which the first pooling of an odd height drops.
        var edge = new float[w * h];
        for (int x = 0; x < w; x++) edge[(h - 1) * w + x] = 1f;
        var targets = new[] { soft, edge }.Select(_ => (IReadOnlyList<(string, Tensor, float)>)StyleLayers
            .Select(l => (l, gpu.Allocate(Gram.OutputShape(Vgg19.ActivationShape(l, 1, 1))), 1f)).ToList()).ToList();
        using var terms = new GuidedStyleTerms(gpu, [new GreyMask(w, h, soft), new GreyMask(w, h, edge)], targets);

        var shape = Shape4.Image(1, h, w);
        var expected = OpData.D(soft);
        for (int level = 0; level <= 3; level++)
        {
            if (level > 0)
            {
                expected = PoolingReference.AvgForward(expected, shape);
                shape = Pooling.OutputShape(shape);
            }
            Check.Close(expected, terms.MaskAt(0, level), 1e-6, 1e-7, $"mask at level {level} ({shape}) [{device}]", log);
            Assert.Equal(expected.Sum(v => v * v), terms.Mass(0, level), 1e-4 * expected.Sum(v => v * v));
        }
        // The edge mask has mass 45 at level 0 and none below: its style keeps only relu1_1's term (no 0/0).
        Assert.Equal([w, 0f, 0f, 0f], Enumerable.Range(0, 4).Select(l => terms.Mass(1, l)));
        Assert.Equal(4 + 1, terms.TermCount);
    }

    [Fact]
    public void AnAllWhiteMaskGivesTheUnmaskedObjective()
    {
        using var problem = new Problem(Devices.Get("opencl"));
        var (plain, plainGradient) = problem.Evaluate([(problem.StyleA, 1f)], null);
        var (white, whiteGradient) = problem.Evaluate([(problem.StyleA, 1f)], [problem.Mask(_ => 1f)]);
        log.WriteLine($"unmasked {plain}, white mask {white}");
        Assert.Equal(plain.Style, white.Style, plain.Style * 1e-6);
        Assert.Equal(plain.Total, white.Total, plain.Total * 1e-6);
        Assert.True(Check.RelativeL2(plainGradient, whiteGradient) <= 1e-6);
    }

    [Fact]
    public void TheBlendWeightsScaleEachStylesTerm()
    {
        using var problem = new Problem(Devices.Get("opencl"));
        var top = problem.Mask((y, _) => y < problem.Height / 2 ? 1f : 0.2f);
        var bottom = problem.Mask((y, _) => y < problem.Height / 2 ? 0f : 1f);
        var (a, _) = problem.Evaluate([(problem.StyleA, 1f)], [top]);
        var (b, _) = problem.Evaluate([(problem.StyleB, 1f)], [bottom]);
        // Blend 3 : 1 → b = (0.75, 0.25), K = 2: each term weighted K·b_k = 1.5 and 0.5.
        var (both, _) = problem.Evaluate([(problem.StyleA, 0.75f), (problem.StyleB, 0.25f)], [top, bottom]);
        log.WriteLine($"top/A {a.Style}, bottom/B {b.Style}, both 3:1 {both.Style}");
        Assert.Equal(1.5 * a.Style + 0.5 * b.Style, both.Style, 1e-5 * both.Style);
        Assert.Equal(a.Content, both.Content, 1e-6 * a.Content);
    }

    /// <summary>
    /// (L_s(x + εv) − L_s(x − εv)) / 2ε against ⟨∇L_s, v⟩ along the style gradient's own direction (where the derivative
    /// is largest and float rounding matters least), for two styles with soft masks that overlap and leave a band
    /// uncovered. Relative error 1.2e-4 at ε = 1e-3 on OpenCL (3e-5 at 3e-4, 1.5e-3 at 1e-2: the O(ε²) term, the ReLU
    /// kinks crossed); the bound is 2e-3 (the mask entering the backward as m instead of m² is off by far more).
    /// </summary>
    [Fact]
    public void TheGradientMatchesCentralDifferencesAlongItself()
    {
        using var problem = new Problem(Devices.Get("opencl"));
        var top = problem.Mask((y, x) => Math.Clamp(1.5f - 2.5f * y / problem.Height, 0f, 1f));
        var left = problem.Mask((_, x) => x < problem.Width / 3 ? 0.8f : 0f);
        var styles = new[] { (problem.StyleA, 1f), (problem.StyleB, 1f) };
        var (loss, g) = problem.Evaluate(styles, [top, left]);
        // The style part of ∇L: the full objective's gradient less that of content and TV alone (β = 0).
        var (_, gNoStyle) = problem.Evaluate(styles, [top, left], styleWeight: 0);
        var gs = g.Select((v, i) => (double)v - gNoStyle[i]).ToArray();
        double largest = gs.Max(Math.Abs);
        var v = gs.Select(d => (float)(d / largest)).ToArray();
        double analytic = gs.Select((d, i) => d * v[i]).Sum();
        const float eps = 1e-3f;
        double plus = problem.Evaluate(styles, [top, left], v, eps).Loss.Style;
        double minus = problem.Evaluate(styles, [top, left], v, -eps).Loss.Style;
        double numeric = (plus - minus) / (2 * eps);
        double error = Math.Abs(numeric - analytic) / Math.Abs(analytic);
        log.WriteLine($"style loss {loss.Style:E4}, ε {eps}: numeric {numeric:E5}, analytic {analytic:E5}, relative {error:E2}");
        Assert.True(error < 2e-3, $"numeric {numeric} vs analytic {analytic}");
    }

    /// <summary>A truncated random VGG19, a content, two style images and a start image, small; evaluations of GatysLoss.</summary>
    private sealed class Problem : IDisposable
    {
        private readonly Vgg19 network;
        private readonly Tensor content, x, gradient;
        private readonly float[] start;

        public Problem(Gpu gpu)
        {
            network = new Vgg19(gpu, RandomVggWeights.Create(3), PoolingKind.Max, Settings(100).Layers);
            content = ImageTensors.ToDevice(gpu, TestImages.Smooth(Width, Height));
            StyleA = ImageTensors.ToDevice(gpu, TestImages.Uniform(5, 40, 30));
            StyleB = ImageTensors.ToDevice(gpu, TestImages.Blocks(6, 4, 8));
            var noise = ImageTensors.Noise(Width, Height, 11);
            start = noise.Data;
            x = ImageTensors.ToDevice(gpu, noise);
            gradient = gpu.Allocate(x.Shape);
        }

        public int Width => 52;
        public int Height => 36;
        public Tensor StyleA { get; }
        public Tensor StyleB { get; }

        private static LossSettings Settings(float styleWeight) =>
            new() { ContentLayers = ["relu2_1"], StyleLayers = ["relu1_1", "relu2_1", "relu3_1"], StyleWeight = styleWeight };

        public GreyMask Mask(Func<int, int, float> weight)
        {
            var data = new float[Width * Height];
            for (int y = 0; y < Height; y++) for (int i = 0; i < Width; i++) data[y * Width + i] = weight(y, i);
            return new GreyMask(Width, Height, data);
        }

        public GreyMask Mask(Func<int, float> weight) => Mask((y, _) => weight(y));

        /// <summary>L and ∇L at the start image + ε·v (v null: the start image).</summary>
        public (LossValues Loss, float[] Gradient) Evaluate(IReadOnlyList<(Tensor, float)> styles, IReadOnlyList<GreyMask>? masks,
            float[]? v = null, float eps = 0, float styleWeight = 100)
        {
            x.CopyFromHost(v is null ? start : start.Select((s, i) => s + eps * v[i]).ToArray());
            using var loss = new GatysLoss(network, content, styles, Settings(styleWeight), null, masks);
            loss.Evaluate(x, gradient);
            return (loss.Last, gradient.ToHost());
        }

        public void Dispose()
        {
            network.Dispose();
            content.Dispose();
            StyleA.Dispose();
            StyleB.Dispose();
            x.Dispose();
            gradient.Dispose();
        }
    }
}
