// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dFewOutputsTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// A 3×3 stride-1 padding-1 convolution with at most 4 output channels, for GPUs: VGG19's conv1_1 backward-data (64 → 3
// channels, the gradient at the image). The GPU kernels block 8 (shared SGEMM) or 64 (tensor cores) output channels per
// group, so there 3 outputs leave 5/8 or 61/64 of the work padding: on the H200 (2026-12-04, 512²) it took 0.42 ms in FP32
// (2.1 TFLOP/s) and 0.21 ms in TF32 where cuDNN took 0.12. Here one work-item owns one pixel and all (≤ 4) outputs:
//   out[j, y, x] = Σ_r Σ_{kh,kw} in[r, y + kh − 1, x + kw − 1] · a[r, kh, kw, j]   (0 outside the image),
// forward: a[r, kh, kw, j] = w[j, r, kh, kw]; backward-data (transpose): a[r, kh, kw, j] = w[r, j, 2 − kh, 2 − kw].
// The group first copies a (the reduction's ≤ FewOutputsMaxReduce channels × 9 taps, 4 outputs each, zero past m) into
// shared memory; every work-item then reads the same Float4 per tap (a broadcast) and 9 input values per channel, whose
// offsets and edge flags it fixed before the loop; consecutive work-items read consecutive pixels. Summation order: r,
// then kh, then kw, one FMA each — the same bytes on every run. + bias, ReLU, store or add as the other direct kernels.
public static partial class Conv2d
{
    /// <summary>Most output channels of <see cref="FewOutputs3x3Kernel"/> (one Float4 of weights per tap).</summary>
    internal const int FewOutputsMax = 4;

    /// <summary>Most reduction channels of <see cref="FewOutputs3x3Kernel"/>: its weights (r × 9 taps × 4) fill an 18 KiB static shared array.</summary>
    internal const int FewOutputsMaxReduce = 128;

    /// <summary>
    /// Whether <paramref name="plan"/> runs a 3×3 convolution summing <paramref name="reduce"/> channels into
    /// <paramref name="m"/> outputs with <see cref="FewOutputs3x3Kernel"/>: the GPU-shaped direct kinds (shared tiles,
    /// shared SGEMM, tensor cores), at most <see cref="FewOutputsMax"/> outputs from at most <see cref="FewOutputsMaxReduce"/>
    /// channels, Winograd not taking the layer. CPU devices keep their register-blocked kernels (8-channel blocks there).
    /// </summary>
    internal static bool UsesFewOutputs(TuningPlan plan, int reduce, int m) =>
        (plan.Conv.Kind is ConvKernelKind.SharedTiles or ConvKernelKind.SharedGemm || plan.Conv.Kind.IsTensorCore())
        && m <= FewOutputsMax && reduce <= FewOutputsMaxReduce && !UsesWinograd(plan, reduce, m);

    /// <summary>
    /// out[j, p] (+)= Σ_r Σ_taps in[r, p + tap] · a[r, tap, j] (+ bias, ReLU; see the comment above) for the pixels p of this
    /// group, <paramref name="transpose"/> = 0 forward (<paramref name="w"/> is m × reduce × 3 × 3), 1 backward-data (w is
    /// reduce × m × 3 × 3, flipped). Grid ⌈H·W / group⌉ × group (1-D, any group size).
    /// </summary>
    private static void FewOutputs3x3Kernel(int reduce, int m, int h, int width, View input, View w, int transpose,
        View bias, int hasBias, int relu, int accumulate, View output)
    {
        var a = SharedMemory.Allocate<SharedGemm.Float4>(FewOutputsMaxReduce * 9);
        var af = a.Cast<float>();
        for (int i = Group.IdxX; i < reduce * 9 * FewOutputsMax; i += Group.DimX)
        {
            int j = i & (FewOutputsMax - 1), rt = i >> 2, r = ConstantDivision.Quotient(rt, 9), tap = rt - r * 9;
            float v = 0f;
            if (j < m) v = transpose != 0 ? w[(r * m + j) * 9 + 8 - tap] : w[(j * reduce + r) * 9 + tap];
            af[i] = v;
        }
        Group.Barrier();

        int hw = h * width, p = Grid.IdxX * Group.DimX + Group.IdxX;
        if (p >= hw) return;
        int y = p / width, x = p - y * width;
        bool up = y > 0, down = y < h - 1, left = x > 0, right = x < width - 1;
        var taps = new FewOutputTaps(p, width, up, down, left, right);
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        for (int r = 0; r < reduce; r++)
        {
            var plane = input.SubView((long)r * hw, hw);
            int t = r * 9;
            taps.Accumulate(plane, a[t], a[t + 1], a[t + 2], a[t + 3], a[t + 4], a[t + 5], a[t + 6], a[t + 7], a[t + 8],
                ref s0, ref s1, ref s2, ref s3);
        }
        FewOutputsStore(output, bias, hasBias, relu, accumulate, hw, p, 0, m, s0);
        FewOutputsStore(output, bias, hasBias, relu, accumulate, hw, p, 1, m, s1);
        FewOutputsStore(output, bias, hasBias, relu, accumulate, hw, p, 2, m, s2);
        FewOutputsStore(output, bias, hasBias, relu, accumulate, hw, p, 3, m, s3);
    }

    private static void FewOutputsStore(View output, View bias, int hasBias, int relu, int accumulate, int hw, int p, int j, int m, float v)
    {
        if (j >= m) return;
        if (hasBias != 0) v += bias[j];
        if (relu != 0) v = IntrinsicMath.Max(v, 0f);
        Output.Store(output, j * hw + p, v, accumulate);
    }

    /// <summary>
    /// One pixel's 9 neighbours in a channel plane: their offsets from the pixel and whether each lies inside the image,
    /// fixed before the reduction loop.
    /// </summary>
    private readonly struct FewOutputTaps(int p, int width, bool up, bool down, bool left, bool right)
    {
        private readonly int P = p, Width = width;
        private readonly bool Up = up, Down = down, Left = left, Right = right;

        /// <summary>s_j += Σ_tap plane[p + tap] · a_tap[j], taps in order kh, kw (0 outside the image).</summary>
        public void Accumulate(View plane, SharedGemm.Float4 a0, SharedGemm.Float4 a1, SharedGemm.Float4 a2, SharedGemm.Float4 a3,
            SharedGemm.Float4 a4, SharedGemm.Float4 a5, SharedGemm.Float4 a6, SharedGemm.Float4 a7, SharedGemm.Float4 a8,
            ref float s0, ref float s1, ref float s2, ref float s3)
        {
            int above = P - Width, below = P + Width;
            Tap(At(plane, Up && Left, above - 1), a0, ref s0, ref s1, ref s2, ref s3);
            Tap(At(plane, Up, above), a1, ref s0, ref s1, ref s2, ref s3);
            Tap(At(plane, Up && Right, above + 1), a2, ref s0, ref s1, ref s2, ref s3);
            Tap(At(plane, Left, P - 1), a3, ref s0, ref s1, ref s2, ref s3);
            Tap(plane[P], a4, ref s0, ref s1, ref s2, ref s3);
            Tap(At(plane, Right, P + 1), a5, ref s0, ref s1, ref s2, ref s3);
            Tap(At(plane, Down && Left, below - 1), a6, ref s0, ref s1, ref s2, ref s3);
            Tap(At(plane, Down, below), a7, ref s0, ref s1, ref s2, ref s3);
            Tap(At(plane, Down && Right, below + 1), a8, ref s0, ref s1, ref s2, ref s3);
        }

        /// <summary>plane[i] when <paramref name="inside"/>, else +0 — the load always in bounds (at the pixel itself), so no compiler's speculation can leave the plane.</summary>
        private float At(View plane, bool inside, int i)
        {
            float v = plane[inside ? i : P];
            return inside ? v : 0f;
        }

        private static void Tap(float v, SharedGemm.Float4 a, ref float s0, ref float s1, ref float s2, ref float s3)
        {
            s0 = MulAdd.Of(v, a.X, s0);
            s1 = MulAdd.Of(v, a.Y, s1);
            s2 = MulAdd.Of(v, a.Z, s2);
            s3 = MulAdd.Of(v, a.W, s3);
        }
    }

    /// <summary>
    /// <see cref="FewOutputs3x3Kernel"/> over <paramref name="input"/> into <paramref name="output"/> (≤ 4 channels) with the
    /// raw OIHW weights <paramref name="w"/>: forward, or backward-data when <paramref name="transpose"/>. With
    /// <paramref name="gate"/>, ReLU's backward is first written over input (as the other direct GPU kernels do, Run3x3).
    /// Shapes are the callers'.
    /// </summary>
    private static void RunFewOutputs(Tensor input, Tensor w, bool transpose, Tensor? bias, bool relu, bool accumulate, Tensor output,
        Tensor? gate = null)
    {
        var gpu = input.Gpu;
        int reduce = input.Shape.C, m = output.Shape.C, h = output.Shape.H, width = output.Shape.W;
        if (m > FewOutputsMax || reduce > FewOutputsMaxReduce)
            throw new ArgumentException($"conv2d 3×3 few outputs: {reduce} → {m} channels; at most {FewOutputsMaxReduce} → {FewOutputsMax}.");
        if (gate is not null) Relu.Backward(gate, input, input, accumulate: false);
        var kernel = gpu.Kernel(FewOutputs3x3Kernel,
            acc => acc.LoadStreamKernel<int, int, int, int, View, View, int, View, int, int, int, View>(FewOutputs3x3Kernel));
        kernel(gpu.Groups1D(h * width), reduce, m, h, width, input.View, w.View, transpose ? 1 : 0,
            (bias ?? output).View, bias is null ? 0 : 1, relu ? 1 : 0, accumulate ? 1 : 0, output.View);
    }

    /// <summary>
    /// <see cref="Forward3x3"/> with <see cref="FewOutputs3x3Kernel"/> (at most 4 outputs, 128 inputs): what the plan runs for
    /// such layers on GPUs (<see cref="UsesFewOutputs"/>). Tests and benches.
    /// </summary>
    public static void ForwardFewOutputs(Tensor x, Tensor w, Tensor? bias, Tensor y, bool fuseRelu)
    {
        CheckForward("conv2d forward (3×3, few outputs)", x, w, bias, y, Conv2dParams.Same3x3);
        RunFewOutputs(x, w, transpose: false, bias, fuseRelu, accumulate: false, y);
    }

    /// <summary>
    /// <see cref="BackwardData3x3"/> with <see cref="FewOutputs3x3Kernel"/> (dx of at most 4 channels, dy of at most 128);
    /// with <paramref name="reluOutput"/>, ReLU's backward is written over dy first. Tests and benches.
    /// </summary>
    public static void BackwardDataFewOutputs(Tensor dy, Tensor w, Tensor dx, bool accumulate, Tensor? reluOutput = null)
    {
        const string op = "conv2d backward-data (3×3, few outputs)";
        CheckBackwardData(op, dy, w, dx, Conv2dParams.Same3x3);
        CheckReluOutput(op, dy, reluOutput);
        RunFewOutputs(dy, w, transpose: true, null, relu: false, accumulate, dx, reluOutput);
    }
}
