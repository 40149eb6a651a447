using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

/// <summary>How kernels write a result that may be accumulated (gradients: the first contribution overwrites, later ones add).</summary>
internal static class Output
{
    /// <summary>dst[i] ← v, or dst[i] ← dst[i] + v when <paramref name="accumulate"/> ≠ 0 (a branch, never dst·β: the old contents may be NaN).</summary>
    public static void Store(ArrayView1D<float, Stride1D.Dense> dst, int i, float v, int accumulate)
    {
        if (accumulate != 0) dst[i] += v;
        else dst[i] = v;
    }
}
