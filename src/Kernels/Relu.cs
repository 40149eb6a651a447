// Reference: tests/IlgpuStyle.Tests/Reference/ReluReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/ReluTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>Rectified linear unit y = max(x, 0), elementwise (any shape). One thread per element.</summary>
public static class Relu
{
    private static void ForwardKernel(Index1D i, View x, View y) => y[i] = IntrinsicMath.Max(x[i], 0f);

    // dx = dy where y > 0, else 0. Reads dy[i] before writing dx[i] in the same thread, so dx may alias dy.
    private static void BackwardKernel(Index1D i, View y, View dy, View dx, int accumulate) =>
        Output.Store(dx, i, Gradient(y[i], dy[i]), accumulate);

    /// <summary>
    /// The gradient through ReLU of one element: dy where its output y &gt; 0, else +0. Every kernel that applies ReLU's
    /// backward (this file's, the gated paddings of backward-data) computes it here, so their bytes agree.
    /// </summary>
    internal static float Gradient(float y, float dy) => y > 0f ? dy : 0f;

    /// <summary>y ← max(x, 0). x and y may be the same tensor.</summary>
    public static void Forward(Tensor x, Tensor y)
    {
        ShapeCheck.Same("relu", "x", x.Shape, "y", y.Shape);
        ShapeCheck.SameDevice("relu", x, y);
        y.Gpu.Kernel(ForwardKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, View>(ForwardKernel))(
            y.Count, x.View, y.View);
    }

    /// <summary>
    /// Gradient through ReLU from its forward output <paramref name="y"/>: g = dy where y &gt; 0, else 0;
    /// dx ← g (accumulate = false, dx may be the same tensor as dy) or dx ← dx + g (accumulate = true).
    /// </summary>
    public static void Backward(Tensor y, Tensor dy, Tensor dx, bool accumulate)
    {
        ShapeCheck.Same("relu backward", "y", y.Shape, "dy", dy.Shape);
        ShapeCheck.Same("relu backward", "y", y.Shape, "dx", dx.Shape);
        ShapeCheck.SameDevice("relu backward", y, dy);
        ShapeCheck.SameDevice("relu backward", y, dx);
        if (accumulate && ReferenceEquals(dy, dx))
            throw new ArgumentException("relu backward: accumulate = true needs dx distinct from dy.");
        dx.Gpu.Kernel(BackwardKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, View, View, int>(BackwardKernel))(
            dx.Count, y.View, dy.View, dx.View, accumulate ? 1 : 0);
    }
}
