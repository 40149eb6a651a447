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
    /// Slices for a grid of <paramref name="workItems"/> work-items over <paramref name="steps"/> reduction steps: with
    /// target T ≥ 1, the fewest that give the device T × 256 work-items (T full groups of 16 × 16) per multiprocessor, at
    /// most <see cref="MaxSlices"/> and none under <see cref="MinStepsPerSlice"/> steps; then whole slices of
    /// <paramref name="stepsPerSlice"/> steps, none empty. T = 0: one slice of every step.
    /// </summary>
    public static int Slices(int target, int workItems, int steps, int multiprocessors, out int stepsPerSlice)
    {
        stepsPerSlice = steps;
        if (target <= 0) return 1;
        long want = (long)target * multiprocessors * WinogradTiles.MaxSharedSide * WinogradTiles.MaxSharedSide;
        int slices = (int)Math.Min(MaxSlices, (want + workItems - 1) / workItems);
        slices = Math.Clamp(slices, 1, Math.Max(1, steps / MinStepsPerSlice));
        stepsPerSlice = Gpu.DivUp(steps, slices);
        return Gpu.DivUp(steps, stepsPerSlice); // no empty slice
    }

    /// <summary>In a kernel: the part of <paramref name="output"/> slice Grid.IdxZ writes (<paramref name="size"/> = M·H·W floats each; z = 0 without a split).</summary>
    internal static View Slice(View output, int size) => output.SubView(Grid.IdxZ * size, output.IntLength - Grid.IdxZ * size);

    /// <summary>The scratch buffer of <paramref name="slices"/> partial outputs of <paramref name="size"/> floats (one, reused by every split convolution).</summary>
    internal static View Partials(Gpu gpu, int slices, int size) => gpu.ScratchAtLeast(slices * size, "conv3x3.splitk.partials").View;

    /// <summary>
    /// output (+)= ReLU?(Σ slices + bias) over M = <paramref name="m"/> channels of <paramref name="hw"/> pixels
    /// (<paramref name="epilogue"/>: Conv2d's EpilogueBias | EpilogueRelu | EpilogueAccumulate flags).
    /// </summary>
    internal static void Sum(Gpu gpu, View partial, int slices, int m, int hw, View bias, int epilogue, View output) =>
        gpu.Kernel(SumKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, int, int, int, View, int, View>(SumKernel))(
            m * hw, partial, slices, m * hw, hw, bias, epilogue, output);

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
