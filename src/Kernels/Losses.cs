// Reference: tests/IlgpuStyle.Tests/Reference/LossReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/LossesTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Mean squared error, the content loss (on feature maps) and the style loss (on Gram matrices) of
/// Gatys et al. Works on tensors of any shape; the loss is a 1×1×1×1 tensor that stays on the device.
/// The sum is a deterministic two-pass reduction (<see cref="Reduction.SquaredDistance"/>).
/// </summary>
public static class Losses
{
    // da = coefficient · (a − t), coefficient = 2·weight/n
    private static void MseBackwardKernel(Index1D i, View a, View target, View da, float coefficient, int accumulate)
    {
        float g = coefficient * (a[i] - target[i]);
        Output.Store(da, i, g, accumulate);
    }

    /// <summary>loss ← weight · mean((a − target)²) = weight/n · Σᵢ (aᵢ − tᵢ)², n = number of elements.</summary>
    public static void Mse(Tensor a, Tensor target, Tensor loss, float weight)
    {
        ShapeCheck.Same("mse", "a", a.Shape, "target", target.Shape);
        ShapeCheck.Equal("mse", "loss", loss.Shape, Shape4.Scalar);
        ShapeCheck.SameDevice("mse", a, target);
        ShapeCheck.SameDevice("mse", a, loss);
        Reduction.SquaredDistance(a, target, loss, weight / a.Count);
    }

    /// <summary>
    /// Gradient of <see cref="Mse"/> with respect to a (the loss itself is the output, so dL/dloss = 1):
    /// g = 2·weight/n · (a − target); da ← g, or da ← da + g when <paramref name="accumulate"/>.
    /// The target is treated as a constant. da may be the same tensor as a when accumulate is false.
    /// </summary>
    public static void MseBackward(Tensor a, Tensor target, Tensor da, float weight, bool accumulate)
    {
        ShapeCheck.Same("mse backward", "a", a.Shape, "target", target.Shape);
        ShapeCheck.Same("mse backward", "a", a.Shape, "da", da.Shape);
        ShapeCheck.SameDevice("mse backward", a, target);
        ShapeCheck.SameDevice("mse backward", a, da);
        float coefficient = (float)(2.0 * weight / a.Count);
        da.Gpu.Kernel(MseBackwardKernel,
            acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, View, View, float, int>(MseBackwardKernel))(
            da.Count, a.View, target.View, da.View, coefficient, accumulate ? 1 : 0);
    }
}
