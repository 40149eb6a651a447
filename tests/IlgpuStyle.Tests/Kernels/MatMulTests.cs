using IlgpuStyle.Kernels;
using IlgpuStyle.Tests.Reference;
using Xunit;
using static IlgpuStyle.Tests.OpData;

namespace IlgpuStyle.Tests.Kernels;

public class MatMulTests(ITestOutputHelper log)
{
    // (m, k, n): square 3, 37 and 64 (the Newton–Schulz sizes: none a multiple of the CPU simulator's 16-wide block or
    // of the 64-wide block of a 16×16 group but 64), and rectangular odd shapes (an inner dimension longer than a tile).
    public static readonly TheoryData<string, int, int, int> DevicesAndShapes =
        Devices.WithShapes((3, 3, 3), (37, 37, 37), (64, 64, 64), (5, 70, 33), (66, 17, 2), (19, 9, 41));

    // c ← α·a·b + β·c against the double triple loop, from both kernels (register-blocked: CPU devices' default;
    // tiled: GPUs'): sums of k ≤ 70 products of values in [−1, 1], float error ~1e-6; rtol 1e-5, atol 1e-5.
    // β = 0 must not read c (pre-filled with NaN). The shapes cut the blocked kernel's 8×16 blocks in both directions.
    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void MultiplyMatchesReference(string device, int m, int k, int n)
    {
        foreach (var kind in new[] { GramKernelKind.Blocked, GramKernelKind.Tiled })
            CheckKernel(device, m, k, n, kind);
    }

    private void CheckKernel(string device, int m, int k, int n, GramKernelKind kind)
    {
        var gpu = Devices.Get(device);
        var a = TestData.Uniform(91, m * k);
        var b = TestData.Uniform(92, k * n);
        var prior = TestData.Uniform(93, m * n);
        using var ta = gpu.FromHost(MatMul.Shape(m, k), a);
        using var tb = gpu.FromHost(MatMul.Shape(k, n), b);
        using var tc = gpu.FromHost(MatMul.Shape(m, n), NaNs(m * n));
        var product = MatMulReference.Multiply(D(a), D(b), m, k, n);

        MatMul.Multiply(ta, tb, tc, 1f, 0f, kind);
        Check.Close(product, tc.ToHost(), 1e-5, 1e-5, $"matmul {kind} {m}×{k}·{k}×{n} [{device}]", log);

        tc.CopyFromHost(prior);
        MatMul.Multiply(ta, tb, tc, -0.5f, 2f, kind);
        Check.Close(product.Select((v, i) => -0.5 * v + 2 * prior[i]).ToArray(), tc.ToHost(), 1e-5, 1e-5,
            $"matmul {kind} −½·a·b + 2·c {m}×{k}·{k}×{n} [{device}]", log);
    }

    [Fact]
    public void MismatchedShapesNameThem()
    {
        var gpu = Devices.Get("cpu");
        using var a = gpu.Allocate(MatMul.Shape(3, 4));
        using var b = gpu.Allocate(MatMul.Shape(5, 2));
        using var c = gpu.Allocate(MatMul.Shape(3, 2));
        Check.NamesShapes(() => MatMul.Multiply(a, b, c), "1×1×3×4", "1×1×5×2");
        using var b2 = gpu.Allocate(MatMul.Shape(4, 2));
        using var wrong = gpu.Allocate(MatMul.Shape(2, 3));
        Check.NamesShapes(() => MatMul.Multiply(a, b2, wrong), "1×1×2×3", "1×1×3×2");
        using var square = gpu.Allocate(MatMul.Shape(3, 3));
        Assert.Throws<ArgumentException>(() => MatMul.Multiply(square, square, square));
    }
}
