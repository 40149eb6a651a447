using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Deterministic sums on the device: pass 1 gives each group a strided slice and a shared-memory tree
/// reduction, writing one partial per group; pass 2 adds the partials in one group. No atomics, so the
/// same input gives the same bits on every run (needed for --seed reproducibility).
/// </summary>
public static class Reduction
{
    /// <summary>Partials per pass-1 launch; also the thread count of pass 2 (clamped to the device).</summary>
    private const int MaxPartials = 256;

    // partial[g] = Σ over i ≡ this group's threads (grid-stride) of x[i]·y[i]   (y = x gives Σx², useDot=0 gives Σx)
    private static void PartialKernel(View x, View y, int n, int useY, View partial)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int t = Group.IdxX;
        int stride = Grid.DimX * Group.DimX;
        float acc = 0f;
        for (int i = Grid.IdxX * Group.DimX + t; i < n; i += stride)
            acc += useY != 0 ? x[i] * y[i] : x[i];
        shared[t] = acc;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (t < s) shared[t] += shared[t + s];
            Group.Barrier();
        }
        if (t == 0) partial[Grid.IdxX] = shared[0];
    }

    // out[0] = scale · Σ partial[0..count)   (one group)
    private static void FinishKernel(View partial, int count, float scale, View result)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int t = Group.IdxX;
        float acc = 0f;
        for (int i = t; i < count; i += Group.DimX) acc += partial[i];
        shared[t] = acc;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (t < s) shared[t] += shared[t + s];
            Group.Barrier();
        }
        if (t == 0) result[0] = scale * shared[0];
    }

    /// <summary>result[0] ← scale · Σ x.</summary>
    public static void Sum(Tensor x, Tensor result, float scale = 1f) => Run(x, x, false, result, scale);

    /// <summary>result[0] ← scale · Σ x ⊙ y.</summary>
    public static void Dot(Tensor x, Tensor y, Tensor result, float scale = 1f)
    {
        ShapeCheck.Same("dot", "x", x.Shape, "y", y.Shape);
        Run(x, y, true, result, scale);
    }

    /// <summary>Σ x ⊙ y read back to the host (the optimizers' scalars).</summary>
    public static float DotToHost(Tensor x, Tensor y, Tensor scratchScalar)
    {
        Dot(x, y, scratchScalar, 1f);
        return scratchScalar.ToScalar();
    }

    private static void Run(Tensor x, Tensor y, bool useY, Tensor result, float scale)
    {
        ShapeCheck.Equal("reduction", "result", result.Shape, Shape4.Scalar);
        var gpu = x.Gpu;
        int group = PowerOfTwoAtMost(gpu.GroupSize1D);
        int groups = Math.Clamp(Gpu.DivUp(x.Count, group), 1, MaxPartials);
        var partial = gpu.Scratch(Shape4.Vector(MaxPartials), "reduction.partials");
        var partialKernel = gpu.Kernel(PartialKernel, a => a.LoadStreamKernel<View, View, int, int, View>(PartialKernel));
        var finishKernel = gpu.Kernel(FinishKernel, a => a.LoadStreamKernel<View, int, float, View>(FinishKernel));
        partialKernel(new KernelConfig(groups, group, SharedMemoryConfig.RequestDynamic<float>(group)),
            x.View, y.View, x.Count, useY ? 1 : 0, partial.View);
        finishKernel(new KernelConfig(1, group, SharedMemoryConfig.RequestDynamic<float>(group)),
            partial.View, groups, scale, result.View);
    }

    internal static int PowerOfTwoAtMost(int n)
    {
        int p = 1;
        while (p * 2 <= n) p *= 2;
        return p;
    }
}
