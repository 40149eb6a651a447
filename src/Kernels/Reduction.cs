// Reference: inline double sums in its test · Test: tests/IlgpuStyle.Tests/Kernels/ElementwiseAndReductionTests.cs
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.OpenCL;

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
    /// Groups and work-items per group on OpenCL CPU devices (PoCL): each work-item sums a long run of blocks and the tree
    /// of 16 is short. With the GPU shape (256 groups of 256) a 512×384 image's dot product gave each work-item about one
    /// block, and the shared-memory tree — gathers and scatters across work-items in PoCL's code — took most of the time
    /// (11.7 % of a stylization's samples, the L-BFGS dot products).
    /// </summary>
    private const int CpuOpenClGroup = 16, CpuOpenClPartials = 32;

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

    /// <summary>Consecutive elements a work-item sums per step of pass 1 (one 8-float vector on CPU OpenCL).</summary>
    private const int Block = 8;

    // partial[g] = Σ term(i) over this group's work-items: work-item w (of W in the grid) takes the blocks of 8
    // consecutive elements 8·w, 8·(w + W), … below n rounded down to 8, in 8 running sums (lane j: elements ≡ j mod 8),
    // added pairwise at the end; the last n mod 8 elements go to the first work-items (grid-stride). term (a compile-time
    // constant, above) is x[i], x[i]·y[i] (fused multiply-add) or (x[i] − y[i])². The 8 lanes are PoCL's 8-float
    // vector: the one-element-per-step loop ran at a third of memory speed (latency of one running sum; a 512×384
    // stylization's L-BFGS dot products took 13 % of its time).
    private static void PartialKernel(SpecializedValue<int> term, View x, View y, int n, View partial)
    {
        var shared = SharedMemory.Allocate<float>(MaxGroup);
        int t = Group.IdxX, w = Grid.IdxX * Group.DimX + t, workItems = Grid.DimX * Group.DimX;
        int whole = n / Block * Block;
        float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f, a4 = 0f, a5 = 0f, a6 = 0f, a7 = 0f;
        for (int i = w * Block; i < whole; i += workItems * Block)
        {
            a0 = Add(term.Value, x, y, i, a0); a1 = Add(term.Value, x, y, i + 1, a1);
            a2 = Add(term.Value, x, y, i + 2, a2); a3 = Add(term.Value, x, y, i + 3, a3);
            a4 = Add(term.Value, x, y, i + 4, a4); a5 = Add(term.Value, x, y, i + 5, a5);
            a6 = Add(term.Value, x, y, i + 6, a6); a7 = Add(term.Value, x, y, i + 7, a7);
        }
        float acc = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
        for (int i = whole + w; i < n; i += workItems) acc = Add(term.Value, x, y, i, acc);
        shared[t] = acc;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (t < s) shared[t] += shared[t + s];
            Group.Barrier();
        }
        if (t == 0) partial[Grid.IdxX] = shared[0];
    }

    /// <summary>acc + term(i).</summary>
    private static float Add(int term, View x, View y, int i, float acc)
    {
        if (term == TermProduct) return MulAdd.Of(x[i], y[i], acc);
        if (term == TermSquaredDiff)
        {
            float d = x[i] - y[i];
            return MulAdd.Of(d, d, acc);
        }
        return acc + x[i];
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
        bool cpuOpenCl = gpu.Accelerator is CLAccelerator { DeviceType: CLDeviceType.CL_DEVICE_TYPE_CPU };
        int group = cpuOpenCl ? CpuOpenClGroup : PowerOfTwoAtMost(Math.Min(gpu.GroupSize1D, MaxGroup));
        int partials = gpu.Kind == AcceleratorType.CPU ? SimulatorPartials : cpuOpenCl ? CpuOpenClPartials : MaxPartials;
        int groups = Math.Clamp(Gpu.DivUp(x.Count, group * Block), 1, partials);
        var partial = gpu.Scratch(Shape4.Vector(MaxPartials), "reduction.partials");
        var partialKernel = gpu.Kernel(PartialKernel, a => a.LoadStreamKernel<SpecializedValue<int>, View, View, int, View>(PartialKernel));
        var finishKernel = gpu.Kernel(FinishKernel, a => a.LoadStreamKernel<View, int, float, View>(FinishKernel));
        partialKernel(new KernelConfig(groups, group),
            SpecializedValue.New(term), x.View, y.View, x.Count, partial.View);
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
