// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs (through the kernels that split) · Test:
// tests/IlgpuStyle.Tests/Kernels/Conv2dFastPathTests.cs (kind=sgemm, ks), TensorCores/Conv2dTensorCoreTests.cs (ks)
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Split-K for the GPU convolutions of small maps (ConvTiles.SplitTarget, plan key ks): a grid with few work-items — conv5_1
/// at 512² is 1 024 pixels × 512 channels, 8 192 work-items of 8 × 8 outputs, 2 warps per SM of an H100 — cuts its
/// reduction into consecutive slices along grid z. Slice z sums its steps into partial[z·M·H·W …] with no epilogue; then
/// <see cref="SumKernel"/> computes out[e] (+)= ReLU?(Σ_z partial[z·M·H·W + e] + bias[e / (H·W)]), the slices in order:
/// the same bytes for the same slices, which depend on the target, the grid and the device's multiprocessors.
/// </summary>
public static class SplitK
{
    /// <summary>Most slices a reduction is cut into.</summary>
    public const int MaxSlices = 32;

    /// <summary>Fewest reduction steps a slice gets.</summary>
    public const int MinStepsPerSlice = 4;

    /// <summary>
    /// Most floats of the partial outputs (32 MiB): slices × M·H·W stays under it (conv4_x at 512² with T = 2 on an H100:
    /// 3 × 2²¹; conv5_1: 9 × 2¹⁹), so the scratch is bounded whatever the target and the device (<see cref="PlannedBytes"/>).
    /// </summary>
    public const long MaxPartialFloats = 1L << 23;

    private const string PartialsKey = "conv3x3.splitk.partials";

    /// <summary>
    /// Device bytes split-K may still allocate under <paramref name="gpu"/>'s plan: the rest of <see cref="MaxPartialFloats"/>
    /// when the plan splits (ks &gt; 0), else 0. The memory planner counts it beside the bytes already live.
    /// </summary>
    public static long PlannedBytes(Gpu gpu) =>
        gpu.Plan.Conv.SplitTarget > 0 ? Math.Max(0, MaxPartialFloats * sizeof(float) - gpu.ScratchBytes(PartialsKey)) : 0;

    /// <summary>
    /// Slices for a grid of <paramref name="workItems"/> work-items over <paramref name="steps"/> reduction steps and
    /// <paramref name="outputs"/> = M·H·W outputs: with target T ≥ 1, the fewest that give the device T × 256 work-items
    /// (T full groups of 16 × 16) per multiprocessor, at most <see cref="MaxSlices"/>, none under
    /// <see cref="MinStepsPerSlice"/> steps and their partial outputs within <see cref="MaxPartialFloats"/>; then whole
    /// slices of <paramref name="stepsPerSlice"/> steps, none empty. T = 0: one slice of every step.
    /// </summary>
    public static int Slices(int target, int workItems, int steps, long outputs, int multiprocessors, out int stepsPerSlice)
    {
        stepsPerSlice = steps;
        if (target <= 0) return 1;
        long want = (long)target * multiprocessors * WinogradTiles.MaxSharedSide * WinogradTiles.MaxSharedSide;
        int slices = (int)Math.Min(Math.Min(MaxSlices, MaxPartialFloats / Math.Max(1, outputs)), (want + workItems - 1) / workItems);
        slices = Math.Clamp(slices, 1, Math.Max(1, steps / MinStepsPerSlice));
        stepsPerSlice = Gpu.DivUp(steps, slices);
        return Gpu.DivUp(steps, stepsPerSlice); // no empty slice
    }

    /// <summary>In a kernel: the part of <paramref name="output"/> slice Grid.IdxZ writes (<paramref name="size"/> = M·H·W floats each; z = 0 without a split).</summary>
    internal static View Slice(View output, int size) => output.SubView(Grid.IdxZ * size, output.IntLength - Grid.IdxZ * size);

    /// <summary>
    /// Runs a convolution of M = <paramref name="m"/> channels × <paramref name="hw"/> pixels in <paramref name="slices"/>
    /// slices: <paramref name="launch"/>(slices, target, epilogue) launches its kernel with grid z = slices — one slice
    /// straight into <paramref name="output"/> with <paramref name="epilogue"/> (EpilogueBias | EpilogueRelu |
    /// EpilogueAccumulate of Conv2d); more into the partial outputs with none, which <see cref="SumKernel"/> then adds in
    /// order and applies the epilogue to.
    /// </summary>
    internal static void Launch(Gpu gpu, int slices, int m, int hw, View bias, int epilogue, View output, Action<int, View, int> launch)
    {
        if (slices == 1)
        {
            launch(1, output, epilogue);
            return;
        }
        var partial = gpu.ScratchAtLeast(slices * m * hw, PartialsKey).View;
        launch(slices, partial, 0);
        gpu.Kernel(SumKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, int, int, int, View, int, View>(SumKernel))(
            m * hw, partial, slices, m * hw, hw, bias, epilogue, output);
    }

    /// <summary>out[e] (+)= ReLU?(Σ_z partial[z·stride + e] + bias[e / hw]), z in increasing order.</summary>
    private static void SumKernel(Index1D e, View partial, int slices, int stride, int hw, View bias, int epilogue, View output)
    {
        float sum = partial[e];
        for (int z = 1; z < slices; z++) sum += partial[z * stride + e];
        if ((epilogue & Conv2d.EpilogueBias) != 0) sum += bias[e / hw];
        if ((epilogue & Conv2d.EpilogueRelu) != 0) sum = IntrinsicMath.Max(sum, 0f);
        Output.Store(output, e, sum, epilogue & Conv2d.EpilogueAccumulate);
    }
}
