using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;
using static IlgpuStyle.Tests.OpData;

namespace IlgpuStyle.Tests.Kernels;

public class NewtonSchulzTests(ITestOutputHelper log)
{
    /// <summary>
    /// C = 3, 37, 64 on OpenCL and CUDA; 3 and 13 on the CPU simulator, whose launches of the 6K + 1 matrix products
    /// take seconds at C = 37 (80 s for the gradient cases at 64).
    /// </summary>
    public static TheoryData<string, int> DevicesAndSizes()
    {
        var data = new TheoryData<string, int>();
        foreach (var device in Devices.Names)
        foreach (int c in device == "cpu" ? [3, 13] : new[] { 3, 37, 64 })
            data.Add(device, c);
        return data;
    }

    /// <summary>B Bᵀ/n + shift·I with B of c×n: n &lt; c makes it rank deficient (a VGG covariance at a small image).</summary>
    private static float[] Spd(int seed, int c, int n, double shift) => F(MatMulReference.RandomSpd(seed, c, n, shift));

    // √s·Y_K after K = 12 steps against the same steps in double: the iteration corrects itself, so float rounding
    // stays near one product's (~1e-6 relative); rtol 1e-4, atol 1e-5 (entries up to ~1).
    [Theory]
    [MemberData(nameof(DevicesAndSizes))]
    public void SqrtMatchesReference(string device, int c)
    {
        var gpu = Devices.Get(device);
        var a = Spd(101, c, 2 * c, 0.01);
        using var ta = gpu.FromHost(MatMul.Shape(c, c), a);
        using var ty = gpu.FromHost(MatMul.Shape(c, c), NaNs(c * c));
        NewtonSchulz.Sqrt(ta, ty, 12);
        Check.Close(NewtonSchulzReference.Sqrt(D(a), c, 12), ty.ToHost(), 1e-4, 1e-5, $"sqrt K=12 C={c} [{device}]", log);
    }

    // With enough steps for a well-conditioned matrix (eigenvalues of A/‖A‖_F above ~1e-2: K = 30), the iteration is
    // the square root: the reference reaches the eigendecomposition's to 1e-12 (which checks both references), the
    // device to float precision.
    [Theory]
    [MemberData(nameof(DevicesAndSizes))]
    public void SqrtConvergesToTheEigenRoot(string device, int c)
    {
        var gpu = Devices.Get(device);
        var a = Spd(102, c, 3 * c, 0.2);
        var root = NewtonSchulzReference.SqrtByEigen(D(a), c);
        Check.Close(D(a), F(MatMulReference.Multiply(root, root, c)), 1e-12, 1e-12, $"eigen root² = A C={c}", log);
        Check.Close(root, F(NewtonSchulzReference.Sqrt(D(a), c, 30)), 1e-9, 1e-12, $"reference NS K=30 vs eigen C={c}", log);
        using var ta = gpu.FromHost(MatMul.Shape(c, c), a);
        using var ty = gpu.Allocate(MatMul.Shape(c, c));
        NewtonSchulz.Sqrt(ta, ty, 30);
        Check.Close(root, ty.ToHost(), 1e-4, 1e-5, $"sqrt K=30 vs eigen C={c} [{device}]", log);
    }

    // tr(sqrt(A)) as a loss of A, its gradient against reverse-mode differentiation through the K steps in double
    // (NewtonSchulzReference.TraceSqrtGradient) and against finite differences of the double K-step trace.
    // Two matrices: well-conditioned (K = 12 converges), and rank deficient with a 1e-6 shift and K = 8, where the
    // small eigenvalues have not converged and ½A^{−1/2} would be off by up to 2× (NewtonSchulz's class comment).
    // Tolerances: value rtol 1e-4; gradient rtol 1e-3, atol 1e-4 of entries up to ~1e2 (float iterates).
    private static OpCase TraceSqrt(int c, int rank, double shift, int iterations) =>
        new($"trace sqrt C={c} rank {rank} shift {shift} K={iterations}", [MatMul.Shape(c, c)], Shape4.Scalar,
            (a, trace) =>
            {
                using var g = a[0].Gpu.Allocate(a[0].Shape);
                NewtonSchulz.TraceSqrt(a[0], trace, g, iterations);
            },
            a => [NewtonSchulzReference.TraceSqrt(a[0], c, iterations)], new(1e-4, 1e-6))
        {
            Loss = true, InputNames = ["a"], Grads = [0],
            Data = (seed, _) => Spd(seed, c, rank, shift),
            Backward = (a, _, _, da, accumulate) =>
            {
                var gpu = a[0].Gpu;
                using var trace = gpu.Allocate(Shape4.Scalar);
                if (!accumulate)
                {
                    NewtonSchulz.TraceSqrt(a[0], trace, da[0], iterations);
                    return;
                }
                using var g = gpu.Allocate(a[0].Shape);
                NewtonSchulz.TraceSqrt(a[0], trace, g, iterations);
                Elementwise.Axpy(1f, g, da[0]);
            },
            ReferenceBackward = (a, _) => [NewtonSchulzReference.TraceSqrtGradient(a[0], c, iterations)],
            BackwardTol = new(1e-3, 1e-4), AccumulateTol = new(1e-3, 1e-4), FiniteDifferencesTol = new(1e-3, 1e-4),
        };

    [Theory]
    [MemberData(nameof(DevicesAndSizes))]
    public void TraceSqrtAndGradientMatchReference(string device, int c)
    {
        OpHarness.ForwardAndBackward(device, TraceSqrt(c, 2 * c, 0.01, 12), seed: 111, log);
        OpHarness.ForwardAndBackward(device, TraceSqrt(c, Math.Max(1, c / 3), 1e-6, 8), seed: 112, log);
    }

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void TraceSqrtGradientMatchesFiniteDifferences(string device)
    {
        OpHarness.FiniteDifferences(device, TraceSqrt(6, 12, 0.01, 12), seed: 121, log);
        OpHarness.FiniteDifferences(device, TraceSqrt(7, 2, 1e-3, 6), seed: 122, log);
    }

    [Fact]
    public void NonSquareOrAliasedIsRefused()
    {
        var gpu = Devices.Get("cpu");
        using var a = gpu.Allocate(MatMul.Shape(3, 4));
        Check.NamesShapes(() => NewtonSchulz.Sqrt(a, a, 1), "1×1×3×4");
        using var square = gpu.Allocate(MatMul.Shape(3, 3));
        Assert.Throws<ArgumentException>(() => NewtonSchulz.Sqrt(square, square, 1));
        using var other = gpu.Allocate(MatMul.Shape(4, 4));
        Check.NamesShapes(() => NewtonSchulz.Sqrt(square, other, 1), "1×1×3×3", "1×1×4×4");
    }
}
