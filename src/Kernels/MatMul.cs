// Reference: tests/IlgpuStyle.Tests/Reference/MatMulReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/MatMulTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Dense matrix product on the device, for the small C×C matrices of the mean–covariance style loss (C ≤ 512: the
/// Newton–Schulz square root, <see cref="NewtonSchulz"/>). A matrix of R rows and K columns is a tensor of shape
/// 1×1×R×K, row-major. c ← α·a·b + β·c; with β = 0 the old c is not read (it may hold NaN).
/// Two kernels, chosen per device by <see cref="TuningPlan.Gram"/> (the Gram kernels' choice: what is fast for one is
/// fast for the other): register-blocked without shared memory (MatMulBlocked.cs; CPU devices) and this file's
/// shared-memory tiled kernel (GPUs), where a T×T group (T = <see cref="Gpu.Tile"/>) computes a 4T×4T block of c, each
/// work-item a 4×4 register block (rows ty + r·T, columns tx + s·T), stepping through the inner dimension T at a time.
/// Any shapes work (edges are zero-padded in shared memory). Each element's sum runs over k in increasing order:
/// the same inputs give the same bits on every run.
/// </summary>
public static partial class MatMul
{
    /// <summary>Rows and columns of c each work-item computes.</summary>
    private const int Block = 4;

    /// <summary>A matrix shape: 1×1×rows×cols.</summary>
    public static Shape4 Shape(int rows, int cols) => new(1, 1, rows, cols);

    // c[i,j] = α·Σ_k a[i,k]·b[k,j] (+ β·c[i,j] when beta ≠ 0). Grid: (⌈n/4T⌉, ⌈m/4T⌉), group T×T.
    private static void MultiplyKernel(View a, View b, View c, int m, int n, int k, float alpha, float beta)
    {
        int t = Group.DimX;
        int tx = Group.IdxX, ty = Group.IdxY;
        int span = Block * t;
        // tileA[(ty + r·T)·T + kk] = a[row0 + ty + r·T, k0 + kk];  tileB[kk·4T + tx + s·T] = b[k0 + kk, col0 + tx + s·T]
        var tileA = SharedMemory.Allocate<float>(Block * Gpu.MaxTile * Gpu.MaxTile);
        var tileB = SharedMemory.Allocate<float>(Block * Gpu.MaxTile * Gpu.MaxTile);
        int row0 = Grid.IdxY * span, col0 = Grid.IdxX * span;

        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int k0 = 0; k0 < k; k0 += t)
        {
            int ka = k0 + tx, kb = k0 + ty;
            for (int r = 0; r < Block; r++)
            {
                int row = row0 + ty + r * t;
                tileA[(ty + r * t) * t + tx] = row < m && ka < k ? a[row * k + ka] : 0f;
                int col = col0 + tx + r * t;
                tileB[ty * span + tx + r * t] = kb < k && col < n ? b[kb * n + col] : 0f;
            }
            Group.Barrier();
            for (int kk = 0; kk < t; kk++)
            {
                float a0 = tileA[ty * t + kk], a1 = tileA[(ty + t) * t + kk];
                float a2 = tileA[(ty + 2 * t) * t + kk], a3 = tileA[(ty + 3 * t) * t + kk];
                int bRow = kk * span + tx;
                float b0 = tileB[bRow], b1 = tileB[bRow + t], b2 = tileB[bRow + 2 * t], b3 = tileB[bRow + 3 * t];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }
        int i0 = row0 + ty, j0 = col0 + tx;
        Store(c, m, n, i0, j0, t, c00, c01, c02, c03, alpha, beta);
        Store(c, m, n, i0 + t, j0, t, c10, c11, c12, c13, alpha, beta);
        Store(c, m, n, i0 + 2 * t, j0, t, c20, c21, c22, c23, alpha, beta);
        Store(c, m, n, i0 + 3 * t, j0, t, c30, c31, c32, c33, alpha, beta);
    }

    // One row of a work-item's block: c[i, j + s·T] for s = 0..3, where inside the matrix.
    private static void Store(View c, int m, int n, int i, int j, int t, float v0, float v1, float v2, float v3, float alpha, float beta)
    {
        if (i >= m) return;
        StoreOne(c, n, i, j, alpha * v0, beta);
        if (j + t < n) StoreOne(c, n, i, j + t, alpha * v1, beta);
        if (j + 2 * t < n) StoreOne(c, n, i, j + 2 * t, alpha * v2, beta);
        if (j + 3 * t < n) StoreOne(c, n, i, j + 3 * t, alpha * v3, beta);
    }

    private static void StoreOne(View c, int n, int i, int j, float v, float beta)
    {
        if (j >= n) return;
        StoreOne(c, i * n + j, v, beta);
    }

    private static void StoreOne(View c, int o, float v, float beta) =>
        c[o] = beta != 0f ? v + beta * c[o] : v; // a branch, never 0·c: the old contents may be NaN

    /// <summary>
    /// c ← α·a·b + β·c for a (m×k), b (k×n), c (m×n), each a 1×1×rows×cols tensor. c must not be a or b.
    /// </summary>
    public static void Multiply(Tensor a, Tensor b, Tensor c, float alpha = 1f, float beta = 0f) =>
        Multiply(a, b, c, alpha, beta, a.Gpu.Plan.Gram);

    /// <summary><see cref="Multiply(Tensor, Tensor, Tensor, float, float)"/> from the <paramref name="kind"/> kernel (tests choose the path).</summary>
    public static void Multiply(Tensor a, Tensor b, Tensor c, float alpha, float beta, GramKernelKind kind)
    {
        const string op = "matmul";
        if (a.Shape.N != 1 || a.Shape.C != 1 || b.Shape.N != 1 || b.Shape.C != 1 || c.Shape.N != 1 || c.Shape.C != 1)
            throw new ArgumentException($"{op}: a {a.Shape}, b {b.Shape} and c {c.Shape} must be matrices of shape 1×1×rows×cols.");
        int m = a.Shape.H, k = a.Shape.W, n = b.Shape.W;
        if (b.Shape.H != k)
            throw new ArgumentException($"{op}: a has shape {a.Shape} but b has shape {b.Shape}: b needs {k} rows.");
        ShapeCheck.Equal(op, "c", c.Shape, Shape(m, n));
        ShapeCheck.SameDevice(op, a, b);
        ShapeCheck.SameDevice(op, a, c);
        if (ReferenceEquals(c, a) || ReferenceEquals(c, b)) throw new ArgumentException($"{op}: c must not be the same tensor as a or b.");
        var gpu = a.Gpu;
        if (kind == GramKernelKind.Blocked)
        {
            MultiplyBlocked(gpu, a, b, c, m, n, k, alpha, beta);
            return;
        }
        int t = gpu.Tile, span = Block * t;
        var config = new KernelConfig(new Index2D(Gpu.DivUp(n, span), Gpu.DivUp(m, span)), new Index2D(t, t));
        gpu.Kernel(MultiplyKernel, acc => acc.LoadStreamKernel<View, View, View, int, int, int, float, float>(MultiplyKernel))(
            config, a.View, b.View, c.View, m, n, k, alpha, beta);
    }
}
