// Reference: inline double sums in its test · Test: tests/IlgpuStyle.Tests/Kernels/ElementwiseAndReductionTests.cs
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

    /// <summary>
    /// Partials on ILGPU's CPU simulator, which runs a group's threads as OS threads: its barriers cost about 0.1 ms
    /// each on the 2-core test machines (threads yielding to each other), so 256 groups of tree reduction took most of
    /// an evaluation there (a content-and-style run truncated after relu1_1 at 32 px: 3.3 s per iteration, 1.0 s with 8).
    /// </summary>
    private const int SimulatorPartials = 8;

    /// <summary>
    /// Largest group size used, the size of the static shared array. (ILGPU 1.5.3's dynamic shared memory is
    /// not safe on OpenCL: the generated code keeps its pointer in a program-wide variable that concurrent
    /// groups overwrite. All our kernels use fixed-size shared arrays.)
    /// </summary>
    private const int MaxGroup = 256;

    // What pass 1 sums per element.
    private const int TermX = 0;          // x[i]
    private const int TermProduct = 1;    // x[i]·y[i]
    private const int TermSquaredDiff = 2; // (x[i] − y[i])²

    // partial[g] = Σ over i ≡ this group's threads (grid-stride) of term(i), term chosen by `term` (above)
    private static void PartialKernel(View x, View y, int n, int term, View partial)
    {
        var shared = SharedMemory.Allocate<float>(MaxGroup);
        int t = Group.IdxX;
        int stride = Grid.DimX * Group.DimX;
        float acc = 0f;
        for (int i = Grid.IdxX * Group.DimX + t; i < n; i += stride)
        {
            if (term == TermProduct) acc += x[i] * y[i];
            else if (term == TermSquaredDiff)
            {
                float d = x[i] - y[i];
                acc += d * d;
            }
            else acc += x[i];
        }
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
        var shared = SharedMemory.Allocate<float>(MaxGroup);
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
    public static void Sum(Tensor x, Tensor result, float scale = 1f) => Run(x, x, TermX, result, scale);

    /// <summary>result[0] ← scale · Σ x ⊙ y.</summary>
    public static void Dot(Tensor x, Tensor y, Tensor result, float scale = 1f)
    {
        ShapeCheck.Same("dot", "x", x.Shape, "y", y.Shape);
        Run(x, y, TermProduct, result, scale);
    }

    /// <summary>result[0] ← scale · Σ (x − y)² (squared Euclidean distance, e.g. for mean squared error).</summary>
    public static void SquaredDistance(Tensor x, Tensor y, Tensor result, float scale = 1f)
    {
        ShapeCheck.Same("squared distance", "x", x.Shape, "y", y.Shape);
        Run(x, y, TermSquaredDiff, result, scale);
    }

    /// <summary>Σ x ⊙ y read back to the host (the optimizers' scalars).</summary>
    public static float DotToHost(Tensor x, Tensor y, Tensor scratchScalar)
    {
        Dot(x, y, scratchScalar, 1f);
        return scratchScalar.ToScalar();
    }

    private static void Run(Tensor x, Tensor y, int term, Tensor result, float scale)
    {
        ShapeCheck.Equal("reduction", "result", result.Shape, Shape4.Scalar);
        var gpu = x.Gpu;
        int group = PowerOfTwoAtMost(Math.Min(gpu.GroupSize1D, MaxGroup));
        int groups = Math.Clamp(Gpu.DivUp(x.Count, group), 1, gpu.Kind == AcceleratorType.CPU ? SimulatorPartials : MaxPartials);
        var partial = gpu.Scratch(Shape4.Vector(MaxPartials), "reduction.partials");
        var partialKernel = gpu.Kernel(PartialKernel, a => a.LoadStreamKernel<View, View, int, int, View>(PartialKernel));
        var finishKernel = gpu.Kernel(FinishKernel, a => a.LoadStreamKernel<View, int, float, View>(FinishKernel));
        partialKernel(new KernelConfig(groups, group),
            x.View, y.View, x.Count, term, partial.View);
        finishKernel(new KernelConfig(1, group),
            partial.View, groups, scale, result.View);
    }

    internal static int PowerOfTwoAtMost(int n)
    {
        int p = 1;
        while (p * 2 <= n) p *= 2;
        return p;
    }
}
