using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>Elementwise ops used by the optimizers and the tape. One thread per element.</summary>
public static class Elementwise
{
    private static void FillKernel(Index1D i, View y, float value) => y[i] = value;

    // y = a·x + y
    private static void AxpyKernel(Index1D i, float a, View x, View y) => y[i] += a * x[i];

    // y = a·x + b·y
    private static void AxpbyKernel(Index1D i, float a, View x, float b, View y) => y[i] = a * x[i] + b * y[i];

    private static void ScaleKernel(Index1D i, View x, float a) => x[i] *= a;

    private static void ClampKernel(Index1D i, View x, float lo, float hi) =>
        x[i] = IntrinsicMath.Clamp(x[i], lo, hi);

    private static void MulKernel(Index1D i, View a, View b, View y) => y[i] = a[i] * b[i];

    public static void Fill(Tensor y, float value) =>
        y.Gpu.Kernel(FillKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, float>(FillKernel))(y.Count, y.View, value);

    /// <summary>y ← a·x + y.</summary>
    public static void Axpy(float a, Tensor x, Tensor y)
    {
        ShapeCheck.Same("axpy", "x", x.Shape, "y", y.Shape);
        y.Gpu.Kernel(AxpyKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, float, View, View>(AxpyKernel))(y.Count, a, x.View, y.View);
    }

    /// <summary>y ← a·x + b·y.</summary>
    public static void Axpby(float a, Tensor x, float b, Tensor y)
    {
        ShapeCheck.Same("axpby", "x", x.Shape, "y", y.Shape);
        y.Gpu.Kernel(AxpbyKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, float, View, float, View>(AxpbyKernel))(y.Count, a, x.View, b, y.View);
    }

    /// <summary>x ← a·x.</summary>
    public static void Scale(Tensor x, float a) =>
        x.Gpu.Kernel(ScaleKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, float>(ScaleKernel))(x.Count, x.View, a);

    /// <summary>x ← min(max(x, lo), hi).</summary>
    public static void Clamp(Tensor x, float lo, float hi) =>
        x.Gpu.Kernel(ClampKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, float, float>(ClampKernel))(x.Count, x.View, lo, hi);

    /// <summary>y ← a ⊙ b (elementwise product).</summary>
    public static void Multiply(Tensor a, Tensor b, Tensor y)
    {
        ShapeCheck.Same("multiply", "a", a.Shape, "b", b.Shape);
        ShapeCheck.Same("multiply", "a", a.Shape, "y", y.Shape);
        y.Gpu.Kernel(MulKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, View, View>(MulKernel))(y.Count, a.View, b.View, y.View);
    }
}
