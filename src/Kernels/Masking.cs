// Reference: tests/IlgpuStyle.Tests/Reference/MaskReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/MaskingTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// A feature map weighted by a spatial mask, the same weight for every channel (spatial control: the guidance channel
/// of Gatys et al., CVPR 2017, §4):
/// <code>
///   y[c, i, j]  ←  m[i, j]^e · x[c, i, j]        e = 1, or e = 2 when squared      (or += when accumulating)
/// </code>
/// x and y are 1×C×H×W, m is 1×1×H×W. One work-item per element on a <see cref="Gpu.RowGrid"/> (W × H × C): no
/// division per element. y may be x (each element is read once, by the work-item that writes it).
/// </summary>
public static class Masking
{
    private static void MultiplyKernel(View x, View m, View y, int h, int w, int squared, int accumulate)
    {
        int j = Grid.IdxX * Group.DimX + Group.IdxX, i = Grid.IdxY, c = Grid.IdxZ;
        if (j >= w) return;
        float weight = m[i * w + j];
        if (squared != 0) weight *= weight;
        int at = (c * h + i) * w + j;
        Output.Store(y, at, weight * x[at], accumulate);
    }

    /// <summary>
    /// y ← m ∘ x (each channel of x times the mask), or y ← m² ∘ x when <paramref name="squared"/>; adds to y instead
    /// when <paramref name="accumulate"/>. x, y: 1×C×H×W; mask: 1×1×H×W.
    /// </summary>
    public static void Multiply(Tensor x, Tensor mask, Tensor y, bool squared = false, bool accumulate = false)
    {
        const string op = "mask multiply";
        ShapeCheck.BatchOne(op, "x", x.Shape);
        ShapeCheck.Same(op, "x", x.Shape, "y", y.Shape);
        ShapeCheck.Equal(op, "mask", mask.Shape, Shape4.Image(1, x.Shape.H, x.Shape.W));
        ShapeCheck.SameDevice(op, x, y);
        ShapeCheck.SameDevice(op, x, mask);
        if (ReferenceEquals(y, mask)) throw new ArgumentException($"{op}: y must not be the mask.");
        y.Gpu.Kernel(MultiplyKernel, a => a.LoadStreamKernel<View, View, View, int, int, int, int>(MultiplyKernel))(
            y.Gpu.RowGrid(x.Shape.W, x.Shape.H, x.Shape.C), x.View, mask.View, y.View, x.Shape.H, x.Shape.W,
            squared ? 1 : 0, accumulate ? 1 : 0);
    }
}
