// Reference: tests/IlgpuStyle.Tests/Reference/NewtonSchulzReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/NewtonSchulzTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Matrix square roots of C×C matrices on the device by a fixed number K of coupled Newton–Schulz iterations
/// (Higham, <i>Functions of Matrices</i>, §6.7; the form crowsonkb/style-transfer-pytorch takes from
/// msubhransu/matrix-sqrt), for the mean–covariance style loss (<see cref="GaussianW2"/>):
/// <code>
///   s = ‖A‖_F,  Y₀ = A/s,  Z₀ = I,
///   T_k = (3I − Z_k Y_k)/2,   Y_{k+1} = Y_k T_k,   Z_{k+1} = T_k Z_k,          sqrt(A) ≈ √s · Y_K   (Z_K ≈ (A/s)^{−1/2})
/// </code>
/// It converges for the symmetric positive semi-definite matrices it is used on (eigenvalues of A/s in (0, 1]);
/// an eigenvalue a of A/s needs about log_{1.5}(a^{−1/2}) + 5 iterations, fewer leave its root too small.
/// <para>
/// <b>The gradient of tr(sqrt(A)) is the exact derivative of the K-step function computed, not ½A^{−1/2}.</b> Y_k, Z_k
/// and T_k are polynomials in Â = A/s (Y_k = Â·q_k(Â), Z_k = q_k(Â) with the scalar recurrence
/// q_{k+1} = q_k(3 − a·q_k²)/2, q₀ = 1), so they commute, and d tr p(Â) = tr(p'(Â) dÂ) for p(a) = a·q_K(a). Its
/// derivative p' = q_K + a·q_K' is carried forward with the iteration as V_k = Â·q_k'(Â) (a·q_k' stays of the size of
/// q_k, where q_k' itself grows like 1.5^{3k} on an eigenvalue near 0 and swamps float32):
/// <code>
///   V₀ = 0,   V_{k+1} = V_k · (3/2)(I − Z_k Y_k) − ½ (Z_k Y_k) Z_k,   p'(Â) = Z_K + V_K,
///   ∂ tr sqrt(A) / ∂A = s^{−1/2} · ( p'(Â)ᵀ + (½ tr Y_K − tr(p'(Â) Â)) · Â )          (the last term: s = ‖A‖_F depends on A)
/// </code>
/// Why not ½ Z_K ≈ ½A^{−1/2}, which is free: on the small eigenvalues that K iterations do not converge (VGG
/// covariances are nearly singular), q_K(a) ≈ 1.5^K while the computed root is ≈ a·1.5^K, so ½Z_K is off by up to 2×
/// there, and a gradient that is not the loss's own misleads L-BFGS's line search. The exact derivative costs two
/// more matrix products per iteration (5K in all, against 3K for the value) and is checked against finite
/// differences of the same K-step function and against reverse-mode differentiation through the iterations.
/// </para>
/// Scratch: 10 C×C buffers per C (<see cref="ScratchFloats"/>), reused by every call.
/// </summary>
public static class NewtonSchulz
{
    /// <summary>Largest group of the one-group trace kernel (its static shared array).</summary>
    private const int MaxGroup = 256;

    /// <summary>Floats of the scratch buffers one matrix size C uses (kept by the <see cref="Gpu"/> across calls).</summary>
    public static long ScratchFloats(int c) => 10L * c * c + 2;

    // Â = A/s, Y = Â, Z = I, V = 0 (s² = norm2[0]).
    private static void StartKernel(Index1D e, View a, View norm2, int c, View aHat, View y, View z, View v)
    {
        float inv = 1f / MathF.Sqrt(IntrinsicMath.Max(norm2[0], 1e-30f));
        float scaled = a[e] * inv;
        aHat[e] = scaled;
        y[e] = scaled;
        z[e] = e / c == e % c ? 1f : 0f;
        v[e] = 0f;
    }

    // T = (3I − P)/2 and U = (3/2)(I − P), P = Z·Y.
    private static void StepKernel(Index1D e, View p, int c, View t, View u)
    {
        float identity = e / c == e % c ? 1f : 0f;
        float pe = p[e];
        t[e] = 1.5f * identity - 0.5f * pe;
        u[e] = 1.5f * (identity - pe);
    }

    // out = √s · Y_K (√s = norm2[0]^{1/4}).
    private static void ScaleKernel(Index1D e, View y, View norm2, View output) =>
        output[e] = y[e] * MathF.Sqrt(MathF.Sqrt(norm2[0]));

    // One group: trY = Σ_i Y[i,i], trPA = Σ_{i,j} P'[i,j]·Â[j,i] with P' = Z + V; trace = √s·trY, coefficient = ½trY − trPA.
    private static void TraceKernel(View y, View z, View v, View aHat, int c, View norm2, View trace, View coefficient)
    {
        var sharedY = SharedMemory.Allocate<float>(MaxGroup);
        var sharedPa = SharedMemory.Allocate<float>(MaxGroup);
        int t = Group.IdxX;
        float sumY = 0f, sumPa = 0f;
        for (int i = t; i < c; i += Group.DimX) sumY += y[i * c + i];
        for (int e = t; e < c * c; e += Group.DimX)
        {
            int i = e / c, j = e % c;
            sumPa += (z[e] + v[e]) * aHat[j * c + i];
        }
        sharedY[t] = sumY;
        sharedPa[t] = sumPa;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (t < s)
            {
                sharedY[t] += sharedY[t + s];
                sharedPa[t] += sharedPa[t + s];
            }
            Group.Barrier();
        }
        if (t == 0)
        {
            trace[0] = MathF.Sqrt(MathF.Sqrt(norm2[0])) * sharedY[0];
            coefficient[0] = 0.5f * sharedY[0] - sharedPa[0];
        }
    }

    // ∂tr/∂A[i,j] = s^{−1/2}·(P'[j,i] + coefficient·Â[i,j]), P' = Z + V.
    private static void GradientKernel(Index1D e, View z, View v, View aHat, View coefficient, View norm2, int c, View gradient)
    {
        int i = e / c, j = e % c;
        float scale = 1f / MathF.Sqrt(MathF.Sqrt(IntrinsicMath.Max(norm2[0], 1e-30f)));
        gradient[e] = scale * (z[j * c + i] + v[j * c + i] + coefficient[0] * aHat[e]);
    }

    /// <summary>y ← sqrt(a) by <paramref name="iterations"/> Newton–Schulz steps; a and y are C×C (1×1×C×C), y ≠ a.</summary>
    public static void Sqrt(Tensor a, Tensor y, int iterations)
    {
        Check("matrix sqrt", a, y, iterations);
        var s = Iterate(a, iterations, derivative: false);
        var gpu = a.Gpu;
        gpu.Kernel(ScaleKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, View, View>(ScaleKernel))(
            a.Count, s.Y.View, s.Norm2.View, y.View);
    }

    /// <summary>
    /// trace[0] ← tr(sqrt(a)) as <see cref="Sqrt"/> computes it, and gradient ← its exact derivative with respect to a
    /// (see the class comment). a and gradient are C×C, trace 1×1×1×1; gradient ≠ a.
    /// </summary>
    public static void TraceSqrt(Tensor a, Tensor trace, Tensor gradient, int iterations)
    {
        const string op = "trace sqrt";
        Check(op, a, gradient, iterations);
        ShapeCheck.Equal(op, "trace", trace.Shape, Shape4.Scalar);
        ShapeCheck.SameDevice(op, a, trace);
        var s = Iterate(a, iterations, derivative: true);
        var gpu = a.Gpu;
        int c = a.Shape.H;
        var coefficient = gpu.Scratch(Shape4.Scalar, "ns.coefficient");
        int group = Reduction.PowerOfTwoAtMost(Math.Min(gpu.GroupSize1D, MaxGroup));
        gpu.Kernel(TraceKernel, acc => acc.LoadStreamKernel<View, View, View, View, int, View, View, View>(TraceKernel))(
            new KernelConfig(1, group), s.Y.View, s.Z.View, s.V.View, s.AHat.View, c, s.Norm2.View, trace.View, coefficient.View);
        gpu.Kernel(GradientKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, View, View, View, View, int, View>(GradientKernel))(
            a.Count, s.Z.View, s.V.View, s.AHat.View, coefficient.View, s.Norm2.View, c, gradient.View);
    }

    /// <summary>The buffers holding the last iterates: Â, Y_K, Z_K, V_K (when derived) and s² = ‖A‖_F².</summary>
    private readonly record struct State(Tensor AHat, Tensor Y, Tensor Z, Tensor V, Tensor Norm2);

    private static State Iterate(Tensor a, int iterations, bool derivative)
    {
        var gpu = a.Gpu;
        int c = a.Shape.H;
        var shape = a.Shape;
        Tensor Buffer(string name) => gpu.Scratch(shape, "ns." + name);
        var norm2 = gpu.Scratch(Shape4.Scalar, "ns.norm2");
        Reduction.Dot(a, a, norm2);
        var aHat = Buffer("ahat");
        Tensor y = Buffer("y0"), yNext = Buffer("y1"), z = Buffer("z0"), zNext = Buffer("z1"), v = Buffer("v0"), vNext = Buffer("v1");
        Tensor p = Buffer("p"), t = Buffer("t"), u = Buffer("u");
        gpu.Kernel(StartKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, View, int, View, View, View, View>(StartKernel))(
            a.Count, a.View, norm2.View, c, aHat.View, y.View, z.View, v.View);
        var step = gpu.Kernel(StepKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, int, View, View>(StepKernel));
        for (int k = 0; k < iterations; k++)
        {
            MatMul.Multiply(z, y, p);
            step(a.Count, p.View, c, t.View, u.View);
            if (derivative)
            {
                MatMul.Multiply(p, z, vNext);
                MatMul.Multiply(v, u, vNext, 1f, -0.5f);    // V_{k+1} = V_k U_k − ½ P_k Z_k
                (v, vNext) = (vNext, v);
            }
            MatMul.Multiply(y, t, yNext);
            MatMul.Multiply(t, z, zNext);
            (y, yNext) = (yNext, y);
            (z, zNext) = (zNext, z);
        }
        return new State(aHat, y, z, v, norm2);
    }

    private static void Check(string op, Tensor a, Tensor output, int iterations)
    {
        if (a.Shape.N != 1 || a.Shape.C != 1 || a.Shape.H != a.Shape.W)
            throw new ArgumentException($"{op}: a has shape {a.Shape}; a square matrix 1×1×C×C is required.");
        ShapeCheck.Same(op, "a", a.Shape, "output", output.Shape);
        ShapeCheck.SameDevice(op, a, output);
        if (ReferenceEquals(a, output)) throw new ArgumentException($"{op}: the output must not be the same tensor as a.");
        if (iterations < 0) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, $"{op}: iterations must be ≥ 0.");
    }
}
