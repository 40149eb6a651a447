// Reference: tests/IlgpuStyle.Tests/Reference/AdamReference.cs (Adam, Abs), tests/IlgpuStyle.Tests/Reference/IterateAverageReference.cs (IterateAverage); the others: inline formulas in their test · Test: tests/IlgpuStyle.Tests/Kernels/ElementwiseAndReductionTests.cs, tests/IlgpuStyle.Tests/Kernels/OptimizerKernelTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Elementwise ops used by the optimizers and the tape. One thread per element. (Ops nobody calls — axpby, clamp,
/// multiply — are in tests/IlgpuStyle.Kernels.Reference, ReferenceElementwise.)
/// </summary>
public static class Elementwise
{
    private static void FillKernel(Index1D i, View y, float value) => y[i] = value;

    // y = a·x + y
    private static void AxpyKernel(Index1D i, float a, View x, View y) => y[i] += a * x[i];

    private static void ScaleKernel(Index1D i, View x, float a) => x[i] *= a;

    private static void AbsKernel(Index1D i, View x, View y) => y[i] = IntrinsicMath.Abs(x[i]);

    // Adam (Kingma & Ba), in PyTorch's arrangement of the bias corrections:
    //   m ← β₁·m + (1−β₁)·g,   v ← β₂·v + (1−β₂)·g²,   x ← x − stepSize · m / (√v / √(1−β₂ᵗ) + ε),
    // with stepSize = lr / (1−β₁ᵗ).
    private static void AdamKernel(Index1D i, View x, View g, View m, View v,
        float beta1, float beta2, float stepSize, float sqrtBiasCorrection2, float eps)
    {
        float gi = g[i];
        float mi = beta1 * m[i] + (1f - beta1) * gi;
        float vi = beta2 * v[i] + (1f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        x[i] -= stepSize * mi / (MathF.Sqrt(vi) / sqrtBiasCorrection2 + eps);
    }

    // Exponential moving average of iterates, bias corrected as Adam's moments (crowsonkb/style-transfer-pytorch's EMA):
    //   avg ← D·avg + (1−D)·x,   output ← correction·avg   with correction = 1 / (1 − Dᵗ) after t updates.
    private static void IterateAverageKernel(Index1D i, View x, View average, View output, float decay, float correction)
    {
        float a = decay * average[i] + (1f - decay) * x[i];
        average[i] = a;
        output[i] = correction * a;
    }

    public static void Fill(Tensor y, float value) =>
        y.Gpu.Kernel(FillKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, float>(FillKernel))(y.Count, y.View, value);

    /// <summary>y ← a·x + y.</summary>
    public static void Axpy(float a, Tensor x, Tensor y)
    {
        ShapeCheck.Same("axpy", "x", x.Shape, "y", y.Shape);
        y.Gpu.Kernel(AxpyKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, float, View, View>(AxpyKernel))(y.Count, a, x.View, y.View);
    }

    /// <summary>x ← a·x.</summary>
    public static void Scale(Tensor x, float a) =>
        x.Gpu.Kernel(ScaleKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, float>(ScaleKernel))(x.Count, x.View, a);

    /// <summary>y ← |x| (y may be x).</summary>
    public static void Abs(Tensor x, Tensor y)
    {
        ShapeCheck.Same("abs", "x", x.Shape, "y", y.Shape);
        y.Gpu.Kernel(AbsKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, View>(AbsKernel))(y.Count, x.View, y.View);
    }

    /// <summary>
    /// One update of a bias-corrected exponential moving average: <paramref name="average"/> ← D·average + (1−D)·x,
    /// then <paramref name="output"/> ← correction·average (correction = 1/(1 − Dᵗ) after the t-th update; output may be x).
    /// </summary>
    public static void IterateAverage(Tensor x, Tensor average, Tensor output, float decay, float correction)
    {
        ShapeCheck.Same("iterate average", "x", x.Shape, "average", average.Shape);
        ShapeCheck.Same("iterate average", "x", x.Shape, "output", output.Shape);
        x.Gpu.Kernel(IterateAverageKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, View, View, float, float>(IterateAverageKernel))(
            x.Count, x.View, average.View, output.View, decay, correction);
    }

    /// <summary>
    /// One fused Adam step, updating <paramref name="x"/> and the moment estimates <paramref name="m"/> and
    /// <paramref name="v"/> in place from the gradient <paramref name="g"/>:
    /// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², x ← x − stepSize·m / (√v / sqrtBiasCorrection2 + ε).
    /// For step t (from 1): stepSize = lr / (1 − β₁ᵗ), sqrtBiasCorrection2 = √(1 − β₂ᵗ).
    /// </summary>
    public static void AdamUpdate(Tensor x, Tensor g, Tensor m, Tensor v,
        float beta1, float beta2, float stepSize, float sqrtBiasCorrection2, float eps)
    {
        ShapeCheck.Same("adam", "x", x.Shape, "gradient", g.Shape);
        ShapeCheck.Same("adam", "x", x.Shape, "m", m.Shape);
        ShapeCheck.Same("adam", "x", x.Shape, "v", v.Shape);
        x.Gpu.Kernel(AdamKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, View, View, View,
            float, float, float, float, float>(AdamKernel))(x.Count, x.View, g.View, m.View, v.View,
            beta1, beta2, stepSize, sqrtBiasCorrection2, eps);
    }
}
