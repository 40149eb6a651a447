// Reference: the one-line formulas in ElementwiseAndReductionTests · Test: tests/IlgpuStyle.Tests/Kernels/ElementwiseAndReductionTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels.Reference;

using View = ArrayView1D<float, Stride1D.Dense>;

// Elementwise ops the product never calls (Elementwise in IlgpuStyle.Kernels keeps the ones it does). One thread per element.
public static class ReferenceElementwise
{
    // y = a·x + b·y
    private static void AxpbyKernel(Index1D i, float a, View x, float b, View y) => y[i] = a * x[i] + b * y[i];

    private static void ClampKernel(Index1D i, View x, float lo, float hi) =>
        x[i] = IntrinsicMath.Clamp(x[i], lo, hi);

    private static void MulKernel(Index1D i, View a, View b, View y) => y[i] = a[i] * b[i];

    /// <summary>y ← a·x + b·y.</summary>
    public static void Axpby(float a, Tensor x, float b, Tensor y)
    {
        ShapeCheck.Same("axpby", "x", x.Shape, "y", y.Shape);
        y.Gpu.Kernel(AxpbyKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, float, View, float, View>(AxpbyKernel))(y.Count, a, x.View, b, y.View);
    }

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
