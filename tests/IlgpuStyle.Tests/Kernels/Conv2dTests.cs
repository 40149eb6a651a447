using IlgpuStyle.Kernels;
using IlgpuStyle.Kernels.Reference;
using IlgpuStyle.Tests.Reference;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// Conv2d kernels vs the double-precision loops in <see cref="ConvReference"/>, on cpu and opencl.
/// Tolerances: rtol 1e-4, atol 1e-4 for every float32 result (sums of at most a few hundred products of
/// values in [−1, 1]; observed errors are ~1e-6). Finite-difference checks use double-precision central
/// differences of L = Σ r ⊙ conv(x, w) on the reference forward, which is linear in x and w, so the
/// differences are exact to ~1e-9 and the same tolerance applies.
/// </summary>
public class Conv2dTests(ITestOutputHelper log)
{
    private const double Rtol = 1e-4, Atol = 1e-4;

    public sealed record ConvCase(Shape4 X, int Cout, Conv2dParams P)
    {
        public Shape4 W => P.WeightShape(Cout, X.C);
        public Shape4 Y => Shape4.Image(Cout, ConvReference.OutputSize(X, P).H, ConvReference.OutputSize(X, P).W);
    }

    // Odd sizes that are not multiples of any tile (4 or 16) or of the 4-channel register block.
    private static readonly Dictionary<string, ConvCase> Cases = new()
    {
        ["3x7x5->4 3x3"] = new(Shape4.Image(3, 7, 5), 4, Conv2dParams.Same3x3),
        ["13x17x19->9 3x3"] = new(Shape4.Image(13, 17, 19), 9, Conv2dParams.Same3x3),
        ["16x20x20->24 3x3"] = new(Shape4.Image(16, 20, 20), 24, Conv2dParams.Same3x3),
        ["5x9x11->6 1x1"] = new(Shape4.Image(5, 9, 11), 6, Conv2dParams.Square(1)),
        ["3x11x9->5 5x3 s2 p(2,1)"] = new(Shape4.Image(3, 11, 9), 5, new Conv2dParams(5, 3, 2, 2, 2, 1)),
        ["4x8x10->7 3x3 p0"] = new(Shape4.Image(4, 8, 10), 7, Conv2dParams.Square(3, 1, 0)),
        ["3x9x8->5 1x1 s2"] = new(Shape4.Image(3, 9, 8), 5, Conv2dParams.Square(1, 2, 0)),
        ["2x13x18->3 2x4 s(3,2) p(0,3)"] = new(Shape4.Image(2, 13, 18), 3, new Conv2dParams(2, 4, 3, 2, 0, 3)),
    };

    public static TheoryData<string, string> DevicesAndCases => Devices.With([.. Cases.Keys]);

    /// <summary>
    /// conv(x, w[, b]) with a fused ReLU or not, by <see cref="Conv2d.Forward(Tensor, Tensor, Tensor?, Tensor, Conv2dParams, bool)"/>
    /// or the naive reference kernel. Without the ReLU it has a backward: dx by Conv2d.BackwardData (when
    /// <paramref name="dx"/>), dw and db by ReferenceConv2d.BackwardWeights (when <paramref name="dw"/>).
    /// </summary>
    private static OpCase Op(ConvCase c, bool bias, bool relu = false, bool naive = false, bool dx = true, bool dw = true)
    {
        var tol = new Tol(Rtol, Atol);
        int[] weights = bias ? [1, 2] : [1];
        return new($"{(naive ? "naive " : "")}conv {c.X}->{c.Cout} {c.P} bias={bias} relu={relu}",
            bias ? [c.X, c.W, Shape4.Vector(c.Cout)] : [c.X, c.W], c.Y,
            (t, y) =>
            {
                if (naive) ReferenceConv2d.ForwardNaive(t[0], t[1], bias ? t[2] : null, y, c.P, relu);
                else Conv2d.Forward(t[0], t[1], bias ? t[2] : null, y, c.P, relu);
            },
            x => ConvReference.Forward(x[0], c.X, x[1], c.W, bias ? x[2] : null, c.P, relu), tol)
        {
            Grads = [.. dx ? [0] : Array.Empty<int>(), .. dw ? weights : []],
            Backward = relu ? null : (t, _, dy, g, accumulate) =>
            {
                if (dx) Conv2d.BackwardData(dy, t[1], g[0], c.P, accumulate);
                int k = dx ? 1 : 0;
                if (dw) ReferenceConv2d.BackwardWeights(t[0], dy, g[k], bias ? g[k + 1] : null, c.P, accumulate);
            },
            ReferenceBackward = (x, dy) =>
            {
                var (gw, gb) = ConvReference.BackwardWeights(x[0], c.X, dy, c.W, c.P);
                return [.. dx ? [ConvReference.BackwardData(dy, x[1], c.W, c.X, c.P)] : Array.Empty<double[]>(),
                        .. dw ? bias ? [gw, gb] : new[] { gw } : []];
            },
            BackwardTol = tol, AccumulateTol = tol, FiniteDifferencesTol = tol,
        };
    }

    [Theory]
    [MemberData(nameof(DevicesAndCases))]
    public void ForwardMatchesReference(string device, string caseName)
    {
        foreach (var (bias, relu) in new[] { (false, false), (true, false), (true, true), (false, true) })
        foreach (bool naive in new[] { false, true })
            OpHarness.Forward(device, Op(Cases[caseName], bias, relu, naive), seed: 1, log);
    }

    [Theory]
    [MemberData(nameof(DevicesAndCases))]
    public void BackwardDataMatchesReference(string device, string caseName) =>
        OpHarness.ForwardAndBackward(device, Op(Cases[caseName], bias: false, dw: false), seed: 4, log);

    // With a bias gradient (dw and db) and without one (only dw is written).
    [Theory]
    [MemberData(nameof(DevicesAndCases))]
    public void BackwardWeightsMatchesReference(string device, string caseName)
    {
        OpHarness.ForwardAndBackward(device, Op(Cases[caseName], bias: true, dx: false), seed: 7, log);
        OpHarness.ForwardAndBackward(device, Op(Cases[caseName], bias: false, dx: false), seed: 7, log);
    }

    public static TheoryData<string, string> DevicesAndTinyCases => Devices.With([.. TinyCases.Keys]);

    private static readonly Dictionary<string, ConvCase> TinyCases = new()
    {
        ["2x5x4->3 3x3"] = new(Shape4.Image(2, 5, 4), 3, Conv2dParams.Same3x3),
        ["2x6x5->3 5x3 s2 p(2,1)"] = new(Shape4.Image(2, 6, 5), 3, new Conv2dParams(5, 3, 2, 2, 2, 1)),
        ["3x4x5->2 1x1"] = new(Shape4.Image(3, 4, 5), 2, Conv2dParams.Square(1)),
        ["2x5x6->2 3x3 p0"] = new(Shape4.Image(2, 5, 6), 2, Conv2dParams.Square(3, 1, 0)),
    };

    /// <summary>Device gradients of L = Σ r ⊙ (conv(x, w) + b) vs central differences of the double reference forward.</summary>
    [Theory]
    [MemberData(nameof(DevicesAndTinyCases))]
    public void BackwardsMatchFiniteDifferences(string device, string caseName) =>
        OpHarness.FiniteDifferences(device, Op(TinyCases[caseName], bias: true), seed: 11, log);

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void KernelsAreBitwiseDeterministic(string device)
    {
        var gpu = Devices.Get(device);
        var c = Cases["13x17x19->9 3x3"];
        using var tx = gpu.FromHost(c.X, TestData.Uniform(15, c.X.Count));
        using var tw = gpu.FromHost(c.W, TestData.Uniform(16, c.W.Count));
        using var tdy = gpu.FromHost(c.Y, TestData.Uniform(17, c.Y.Count));
        using var ty = gpu.Allocate(c.Y);
        using var tdx = gpu.Allocate(c.X);
        using var tdw = gpu.Allocate(c.W);
        using var tdb = gpu.Allocate(Shape4.Vector(c.Cout));

        float[][] Run()
        {
            Conv2d.Forward(tx, tw, null, ty, c.P);
            Conv2d.BackwardData(tdy, tw, tdx, c.P, accumulate: false);
            ReferenceConv2d.BackwardWeights(tx, tdy, tdw, tdb, c.P, accumulate: false);
            return [ty.ToHost(), tdx.ToHost(), tdw.ToHost(), tdb.ToHost()];
        }

        var first = Run();
        var second = Run();
        for (int k = 0; k < first.Length; k++)
            Assert.Equal(first[k].Select(BitConverter.SingleToInt32Bits), second[k].Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void MismatchedShapesThrowNamingBothShapes()
    {
        var gpu = Devices.Get("cpu");
        var p = Conv2dParams.Same3x3;
        using var x = gpu.Allocate(new Shape4(1, 3, 7, 5));
        using var w = gpu.Allocate(new Shape4(4, 3, 3, 3));
        using var wrongCin = gpu.Allocate(new Shape4(4, 2, 3, 3));
        using var y = gpu.Allocate(new Shape4(1, 4, 7, 5));
        using var wrongY = gpu.Allocate(new Shape4(1, 4, 5, 7));
        using var wrongBias = gpu.Allocate(Shape4.Vector(5));

        void Throws(Action call, string a, string b)
        {
            var e = Assert.Throws<ArgumentException>(call);
            log.WriteLine(e.Message);
            Assert.Contains(a, e.Message);
            Assert.Contains(b, e.Message);
        }

        Throws(() => Conv2d.Forward(x, wrongCin, null, y, p), "1×3×7×5", "4×2×3×3");
        Throws(() => ReferenceConv2d.ForwardNaive(x, wrongCin, null, y, p), "1×3×7×5", "4×2×3×3");
        Throws(() => Conv2d.Forward(x, w, null, wrongY, p), "1×4×5×7", "1×4×7×5");
        Throws(() => Conv2d.Forward(x, w, wrongBias, y, p), "1×5×1×1", "1×4×1×1");
        Throws(() => Conv2d.Forward(x, w, null, y, Conv2dParams.Square(5)), "4×3×3×3", "5×5");
        Throws(() => Conv2d.BackwardData(y, wrongCin, x, p, false), "1×3×7×5", "4×2×3×3");
        Throws(() => Conv2d.BackwardData(wrongY, w, x, p, false), "1×4×5×7", "1×4×7×5");
        Throws(() => ReferenceConv2d.BackwardWeights(x, y, wrongCin, null, p, false), "1×3×7×5", "4×2×3×3");
        Throws(() => ReferenceConv2d.BackwardWeights(x, wrongY, w, null, p, false), "1×4×5×7", "1×4×7×5");
        Throws(() => ReferenceConv2d.BackwardWeights(x, y, w, wrongBias, p, false), "1×5×1×1", "1×4×1×1");
    }

    [Fact]
    public void ParamsComputeOutputSizeAndRejectInvalidValues()
    {
        Assert.Equal((7, 5), Conv2dParams.Same3x3.OutputSize(7, 5));
        Assert.Equal((6, 5), new Conv2dParams(5, 3, 2, 2, 2, 1).OutputSize(11, 9)); // (11+4−5)/2+1, (9+2−3)/2+1
        Assert.Equal((5, 3), Conv2dParams.Square(3).OutputSize(7, 5));
        Assert.Equal(new Shape4(9, 13, 3, 3), Conv2dParams.Same3x3.WeightShape(9, 13));
        Assert.Throws<ArgumentException>(() => Conv2dParams.Square(0).OutputSize(7, 5));
        Assert.Throws<ArgumentException>(() => new Conv2dParams(3, 3, 0, 1, 1, 1).OutputSize(7, 5));
        Assert.Throws<ArgumentException>(() => new Conv2dParams(3, 3, 1, 1, -1, 0).OutputSize(7, 5));
        Assert.Throws<ArgumentException>(() => Conv2dParams.Square(5).OutputSize(3, 9)); // kernel larger than the input
    }
}
