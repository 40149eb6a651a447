// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dFastPathTests.cs, tests/IlgpuStyle.Tests/Kernels/PreparedConvTests.cs
using ILGPU;
using ILGPU.Runtime;
using IlgpuStyle.Kernels.TensorCores;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;
using TensorCoreLauncher = System.Action<global::ILGPU.Runtime.AcceleratorStream, global::ILGPU.KernelConfig, global::ILGPU.Runtime.SpecializedValue<global::IlgpuStyle.Kernels.ConvTiles>,
    int, int, int, int, int, global::ILGPU.Runtime.ArrayView1D<float, global::ILGPU.Stride1D.Dense>, global::ILGPU.Runtime.ArrayView1D<float, global::ILGPU.Stride1D.Dense>,
    global::ILGPU.Runtime.ArrayView1D<float, global::ILGPU.Stride1D.Dense>, int, global::ILGPU.Runtime.ArrayView1D<float, global::ILGPU.Stride1D.Dense>, long, long>;

// Fast path for 3×3, stride 1, padding 1 (the VGG convolution), as an implicit GEMM:
//   out[o, p] = Σ_k a[k, o] · B[k, p],   k = c·9 + tap, tap = 3·kh + kw, p = (y, x),
//   a = the weights in K-major layout a[k·mp + o] (mp = M rounded up to 16, zero columns past M),
//   B[k, p] = in[c, y + kh − 1, x + kw − 1] (0 outside): im2col, never materialized.
// The same kernels compute the forward pass (in = x with Cin channels, M = Cout, bias/ReLU epilogue) and the
// gradient with respect to the input (in = dy with Cout channels, M = Cin): the transposed convolution of a
// 3×3 s1 p1 convolution is the 3×3 s1 p1 convolution with w'[i, o, kh, kw] = w[o, i, 2 − kh, 2 − kw], so
// backward-data is a gather too: every output is summed by one work-item in a fixed order, no atomics.
public static partial class Conv2d
{
    /// <summary>
    /// Rows of the rearranged weights one work-item of the layout kernel writes (straight-line code): 8× fewer groups
    /// than one row each, which is what costs on the ILGPU CPU simulator, and no loop, which would stop PoCL from
    /// vectorizing across work-items.
    /// </summary>
    private const int LayoutRowsPerWorkItem = 8;

    /// <summary>True when <see cref="Forward"/> and <see cref="BackwardData"/> use the implicit-GEMM fast path: 3×3, stride 1, padding 1.</summary>
    public static bool HasFastPath(Conv2dParams p) => p == Conv2dParams.Same3x3;

    /// <summary>
    /// <see cref="Forward"/> for 3×3 stride-1 padding-1 with an explicit blocking (tests and tuning; <see cref="Forward"/>
    /// uses <see cref="TuningPlan.Conv"/> of <see cref="Gpu.Plan"/>). Same shapes and semantics as <see cref="Forward"/>.
    /// </summary>
    public static void Forward3x3(Tensor x, Tensor w, Tensor? bias, Tensor y, bool fuseRelu, ConvTiles tiles)
    {
        CheckForward("conv2d forward (3×3 fast path)", x, w, bias, y, Conv2dParams.Same3x3);
        Run3x3(x, w, transpose: false, bias, fuseRelu, accumulate: false, y, tiles);
    }

    /// <summary>
    /// <see cref="BackwardData"/> for 3×3 stride-1 padding-1 with an explicit blocking; <paramref name="reluOutput"/> as in
    /// <see cref="BackwardData(Tensor, PreparedConv3x3, Tensor, bool, Tensor?)"/>.
    /// </summary>
    public static void BackwardData3x3(Tensor dy, Tensor w, Tensor dx, bool accumulate, ConvTiles tiles, Tensor? reluOutput = null)
    {
        const string op = "conv2d backward-data (3×3 fast path)";
        CheckBackwardData(op, dy, w, dx, Conv2dParams.Same3x3);
        CheckReluOutput(op, dy, reluOutput);
        Run3x3(dy, w, transpose: true, null, relu: false, accumulate, dx, tiles, gate: reluOutput);
    }

    /// <summary>
    /// What <paramref name="plan"/> runs for a 3×3 stride-1 convolution that sums over <paramref name="reduce"/> channels
    /// into <paramref name="outputs"/> (forward: cin → cout; backward-data: cout → cin), in the plan's own words:
    /// "winograd F(4×4,3×3) wblock=8x16" or "direct kind=blocked,gx=2,gy=8,ci=1". For the bench's per-layer rows.
    /// </summary>
    public static string PlannedKernel3x3(TuningPlan plan, int reduce, int outputs)
    {
        if (UsesFewOutputs(plan, reduce, outputs)) return "direct few outputs (one work-item per pixel)";
        if (!UsesWinograd(plan, reduce, outputs)) return $"direct {DirectTiles(plan.Conv, outputs)}";
        int t = plan.WinogradOutputTile;
        return $"winograd F({t}×{t},3×3) wblock={WinogradTiles.BlockName(plan.WinogradBlock)}";
    }

    /// <summary>
    /// The direct kernel's blocking for <paramref name="outputs"/> output channels: <paramref name="tiles"/>, except that
    /// at most 8 outputs (conv1_1's backward-data: 3) take the 8-channel block in place of the 16-channel one, which would
    /// spend 13 of its 16 lanes on padding (the operand is padded to 16 channels either way). conv1_1's backward-data at
    /// 256² / 512² with AVX-512 code on the Intel Xeon: 16.4 → 8.7 ms / 76.1 → 51.1 ms (medians of 5; doc/PERFORMANCE.md, stop 23).
    /// The tensor-core kinds: <see cref="TensorCoreTilesFor"/>.
    /// </summary>
    internal static ConvTiles DirectTiles(ConvTiles tiles, int outputs) =>
        tiles.Kind == ConvKernelKind.RegisterBlocked && outputs <= ConvTiles.Blocked8Channels ? tiles with { Kind = ConvKernelKind.RegisterBlocked8 }
        : tiles.Kind.IsTensorCore() ? TensorCoreTilesFor(tiles, outputs)
        : tiles;

    /// <summary>
    /// The 3×3 fast path as <see cref="Gpu.Plan"/> says: Winograd (F(4×4, 3×3) or F(2×2, 3×3)) for the layers
    /// <see cref="TuningPlan.WinogradMinChannels"/> selects, else the direct kernel of <see cref="TuningPlan.Conv"/>; with the
    /// operands of <paramref name="prepared"/> when given, and reading input ⊙ [gate &gt; 0] when <paramref name="gate"/> is given.
    /// </summary>
    private static void RunPlanned3x3(Tensor input, Tensor w, bool transpose, Tensor? bias, bool relu, bool accumulate, Tensor output,
        PreparedConv3x3? prepared, Tensor? gate = null)
    {
        var plan = input.Gpu.Plan;
        if (UsesFewOutputs(plan, input.Shape.C, output.Shape.C))
            // At most 4 outputs on a GPU (conv1_1's backward-data): one work-item per pixel and all its outputs
            // (Conv2dFewOutputsKernel.cs), the raw weights.
            RunFewOutputs(input, w, transpose, bias, relu, accumulate, output, gate);
        else if (UsesWinograd(plan, input.Shape.C, output.Shape.C))
            RunWinograd(input, w, transpose, bias, relu, accumulate, output, plan.WinogradTiles,
                prepared?.WinogradOperand(transpose, plan.WinogradOutputTile), gate: gate);
        else
            Run3x3(input, w, transpose, bias, relu, accumulate, output, plan.Conv,
                prepared?.DirectOperand(transpose, plan.Conv), gate);
    }

    /// <summary>
    /// Shape and device checks of a backward-data call's <c>reluOutput</c> (none when null): the output of the ReLU whose
    /// gradient dy is, so dy's shape.
    /// </summary>
    private static void CheckReluOutput(string op, Tensor dy, Tensor? reluOutput)
    {
        if (reluOutput is null) return;
        ShapeCheck.Same(op, "dy", dy.Shape, "reluOutput", reluOutput.Shape);
        ShapeCheck.SameDevice(op, dy, reluOutput);
    }

    /// <summary>
    /// The blocking the tensor-core kernel runs for a layer of <paramref name="m"/> output channels: no more warps along
    /// channels than the layer has 64-channel tiles, and the warps that lose their channels go along pixels where the
    /// kernel supports it and the shared tiles fit (gx=2 gy=2 → gx=4 gy=1 on the 64-channel layers; gx=4 gy=2 → gx=4
    /// gy=1). On the H200 (2026-12-04) conv1_2 at 1024² took 1.55 ms forward as 2 × 1 warps and 0.94 ms as 4 × 1.
    /// </summary>
    public static ConvTiles TensorCoreTilesFor(ConvTiles tiles, int m)
    {
        int gy = Math.Min(tiles.GroupY, Gpu.DivUp(m, TensorCoreWarpChannels));
        var narrow = tiles with { GroupY = gy };
        var folded = narrow with { GroupX = tiles.GroupX * tiles.GroupY / gy };
        return ConvTiles.TensorCoreWarpsAlongPixels.Contains(folded.GroupX)
            && TensorCoreSharedFits(TensorCoreSharedNeed(folded))
            ? folded : narrow;
    }

    /// <summary>
    /// output ← (or +=) conv3×3(input, a) (+ bias, ReLU). a is <paramref name="prepared"/> when given, else
    /// <paramref name="w"/> (OIHW) rearranged into a scratch buffer on this call (one pass over w). With
    /// <paramref name="gate"/>, of input's shape, the convolution of input ⊙ [gate &gt; 0]: the register-blocked kernels'
    /// padded copy is gated as it is made; the kernels that read input itself (shared tiles, shared SGEMM, tensor cores) first have
    /// ReLU's backward write it over input. Shapes are checked by the callers.
    /// </summary>
    private static void Run3x3(Tensor input, Tensor w, bool transpose, Tensor? bias, bool relu, bool accumulate, Tensor output,
        ConvTiles tiles, Tensor? prepared = null, Tensor? gate = null)
    {
        var gpu = input.Gpu;
        if (tiles.Kind.IsTensorCore()) RequireTensorCores(gpu, $"conv2d 3×3 with {tiles}");
        if (tiles.Tf32NearestEven) RequireTf32NearestEven(gpu, $"conv2d 3×3 with {tiles}");
        tiles.Validate(gpu.Accelerator.MaxNumThreadsPerGroup);
        if (gate is not null && (tiles.Kind.IsTensorCore() || tiles.Kind is ConvKernelKind.SharedTiles or ConvKernelKind.SharedGemm))
        {
            Relu.Backward(gate, input, input, accumulate: false);
            gate = null;
        }
        int reduce = input.Shape.C, m = output.Shape.C, h = output.Shape.H, width = output.Shape.W;
        int mp = PaddedChannels(m);
        string scratchKey = transpose ? "conv3x3.a.backward" : "conv3x3.a.forward";
        // The tensor-core kernel reads its own operand (fragment order, rounded as it rounds its stages: TensorCoreRoundingOf),
        // the others the K-major one.
        var rounding = tiles.Kind.IsTensorCore() ? TensorCoreRoundingOf(tiles, gpu.Accelerator) : default;
        var a = prepared ?? (tiles.Kind.IsTensorCore()
            ? TensorCoreOperand(w, transpose, rounding,
                gpu.Scratch(Shape4.Vector(TensorCoreOperandFloats(reduce, m, tiles.Kind == ConvKernelKind.TensorCoreBf16)), scratchKey + "." + ConvTiles.KindName(tiles.Kind)))
            : LayOut3x3(w, transpose, gpu.Scratch(Shape4.Vector(reduce * 9 * mp), scratchKey)));

        var biasView = (bias ?? output).View;
        int hasBias = bias is null ? 0 : 1, reluFlag = relu ? 1 : 0, accumulateFlag = accumulate ? 1 : 0;
        if (tiles.Kind.IsTensorCore())
        {
            // TensorCoreTilesFor: spare channel warps along pixels on narrow layers; TF32's rounding the device's (or the tiles').
            var t = DirectTiles(tiles, m) with { Tf32NearestEven = rounding == TensorCoreRounding.Tf32NearestEven };
            var specialized = SpecializedValue.New(t with { SplitTarget = 0 }); // one kernel for every split target
            // With cp.async stages, ILGPU's PTX goes through the depot rewrite before the driver loads it (RewrittenPtxKernels);
            // the deepest pipelines' tiles take dynamic shared memory, which the launch asks for (only they: Validate).
            int need = TensorCoreSharedNeed(t);
            var sharedConfig = TensorCoreDynamicShared(need) ? SharedMemoryConfig.RequestDynamic<float>(TensorCoreDynamicFloats(need)) : default;
            var tensorCore = t.AsyncBuffers > 0
                ? gpu.RewrittenPtxKernel<TensorCoreLauncher>(TensorCore3x3Kernel, specialized, sharedConfig.ArraySize)
                : gpu.Kernel(TensorCore3x3Kernel,
                    acc => acc.LoadKernel<SpecializedValue<ConvTiles>, int, int, int, int, int, View, View, View, int, View, long, long>(
                        TensorCore3x3Kernel));
            var grid = new Index3D(Gpu.DivUp(h * width, TensorCoreWarpPixels * t.GroupX), Gpu.DivUp(m, t.GroupChannels), 1);
            int epilogue = hasBias * EpilogueBias + reluFlag * EpilogueRelu + accumulateFlag * EpilogueAccumulate;
            int slices = SplitK.Slices(t.SplitTarget, grid.X * grid.Y * t.WorkItems, TensorCoreStages(reduce, t.Kind), (long)m * h * width,
                gpu.Accelerator.NumMultiprocessors, out int stagesPerSlice);
            long inputAddress = AsyncCopy.DeviceAddress(input.View), weightsAddress = AsyncCopy.DeviceAddress(a.View);
            // On CUDA the kernel reads the weights 16 bytes at a time without looking (GlobalLoad.Float4, AsyncCopy.Float4):
            // every Tensor is a whole allocation, which CUDA aligns to 256 bytes.
            if (gpu.Kind == AcceleratorType.Cuda && (weightsAddress & 15) != 0)
                throw new InvalidOperationException($"conv2d 3×3 with {tiles}: the weight operand's device address {weightsAddress:X} is not 16-byte aligned.");
            // The stages per slice ride in the epilogue's upper bits (one slice: all of them).
            SplitK.Launch(gpu, slices, m, h * width, biasView, epilogue, output.View,
                (z, target, flags) => tensorCore(gpu.Stream, new KernelConfig(new Index3D(grid.X, grid.Y, z), new Index3D(t.WorkItems, 1, 1), sharedConfig),
                    specialized, reduce, m, TensorCoreGroups(m), h, width, input.View, a.View, biasView, flags | stagesPerSlice << TensorCoreSliceShift, target,
                    inputAddress, weightsAddress));
            return;
        }
        if (tiles.Kind == ConvKernelKind.SharedGemm)
        {
            RunSharedGemm3x3(gpu, tiles, reduce, m, mp, h, width, input.View, a.View, biasView, hasBias, reluFlag, accumulateFlag, output.View);
            return;
        }
        if (tiles.Kind == ConvKernelKind.SharedTiles)
        {
            var kernel = gpu.Kernel(SharedTiles3x3Kernel,
                acc => acc.LoadStreamKernel<SpecializedValue<ConvTiles>, int, int, int, int, int, View, View, View, int, int, int, View>(
                    SharedTiles3x3Kernel));
            var config = new KernelConfig(
                new Index3D(Gpu.DivUp(width, tiles.GroupX), Gpu.DivUp(h, ConvTiles.SharedBlock), Gpu.DivUp(m, tiles.GroupChannels)),
                new Index3D(tiles.GroupX, tiles.GroupY, 1));
            kernel(config, SpecializedValue.New(tiles), reduce, m, mp, h, width,
                input.View, a.View, biasView, hasBias, reluFlag, accumulateFlag, output.View);
            return;
        }

        // Register-blocked: fewer work-items along x on narrow maps, so no group covers mostly padding.
        tiles = DirectTiles(tiles, m);
        int blocksX = Gpu.DivUp(width, ConvTiles.BlockedPixels);
        int gx = Math.Min(tiles.GroupX, blocksX), gy = tiles.GroupY;
        int groupsX = Gpu.DivUp(blocksX, gx);
        int wp = groupsX * gx * ConvTiles.BlockedPixels + 2;
        var padded = gpu.ScratchAtLeast(reduce * (h + 2) * wp, PaddedScratchKey);
        var pad = gpu.Kernel(ZeroPadKernel, acc => acc.LoadStreamKernel<SpecializedValue<int>, View, View, int, int, int, View>(ZeroPadKernel));
        pad(gpu.RowGrid(wp, h + 2, reduce), SpecializedValue.New(gate is null ? 0 : 1), input.View, (gate ?? input).View, h, width, wp,
            padded.View);
        Action<SpecializedValue<int>, int, int, int, int, int, int, View, View, View, int, int, int, View> kernelMethod =
            tiles.Kind == ConvKernelKind.RegisterBlocked8 ? RegisterBlocked8x8Kernel : RegisterBlocked3x3Kernel;
        var blocked = gpu.Kernel(kernelMethod,
            acc => acc.LoadStreamKernel<SpecializedValue<int>, int, int, int, int, int, int, View, View, View, int, int, int, View>(
                kernelMethod));
        blocked(new KernelConfig(new Index3D(groupsX, h, Gpu.DivUp(m, tiles.GroupChannels)), new Index3D(gx, gy, 1)),
            SpecializedValue.New(width >= gpu.Plan.RowStoreMinWidth ? 1 : 0), reduce, m, mp, h, width, wp, padded.View, a.View, biasView, hasBias, reluFlag, accumulateFlag, output.View);
    }

    /// <summary>
    /// Null when <paramref name="accelerator"/> runs the tensor-core kernels (<see cref="ConvKernelKind.TensorCoreTf32"/>,
    /// <see cref="ConvKernelKind.TensorCoreBf16"/>): a CUDA device of compute capability 8.0 or newer (mma.sync m16n8k8
    /// .tf32 and m16n8k16 .bf16 need sm_80), or the CPU simulator with
    /// 32-lane warps (the emulation the tests run); otherwise why not, as the end of a sentence.
    /// </summary>
    public static string? WhyNoTensorCores(Accelerator accelerator) => accelerator switch
    {
        ILGPU.Runtime.Cuda.CudaAccelerator cuda when cuda.Architecture is { Major: >= 8 } => null,
        ILGPU.Runtime.Cuda.CudaAccelerator cuda => $"needs TF32/BF16 tensor cores (compute capability 8.0 or newer); this device is {cuda.Architecture}.",
        ILGPU.Runtime.CPU.CPUAccelerator cpu when cpu.WarpSize == 32 => null,
        _ => "needs TF32/BF16 tensor cores: only CUDA devices of compute capability 8.0 or newer have them (the FP32 kernels run everywhere).",
    };

    /// <summary>
    /// Throws <see cref="InvalidOperationException"/> ("<paramref name="op"/>: device why") unless <paramref name="gpu"/>
    /// runs the TF32 tensor-core kernels (<see cref="WhyNoTensorCores"/>): the check of every tensor-core launch.
    /// </summary>
    internal static void RequireTensorCores(Gpu gpu, string op)
    {
        if (WhyNoTensorCores(gpu.Accelerator) is string why)
            throw new InvalidOperationException($"{op}: {gpu.Name} {why}");
    }

    /// <summary>
    /// Throws <see cref="InvalidOperationException"/> ("<paramref name="op"/>: …") where a kernel asked to round TF32 to nearest
    /// even would be compiled without cvt.rn.tf32: a CUDA device before compute capability 9.0 (elsewhere the rounding is the
    /// bit arithmetic, <see cref="TensorCores.Tf32.RoundNearestEvenEmulated"/>). The check of every launch that takes the
    /// rounding as an argument (the convolution's tiles, the Gram's tests and bench).
    /// </summary>
    internal static void RequireTf32NearestEven(Gpu gpu, string op)
    {
        if (gpu.Kind == AcceleratorType.Cuda && !TensorCores.Tf32.HasNearestEven(gpu.Accelerator))
            throw new InvalidOperationException($"{op}: TF32 to nearest even needs cvt.rn.tf32, which CUDA devices have from compute capability 9.0; {gpu.Name} has not.");
    }

    internal static int PaddedChannels(int m) => Gpu.DivUp(m, ConvTiles.BlockedChannels) * ConvTiles.BlockedChannels;

    /// <summary>Writes the K-major operand of <paramref name="w"/> (see WeightLayout3x3Kernel) into <paramref name="a"/>.</summary>
    private static Tensor LayOut3x3(Tensor w, bool transpose, Tensor a)
    {
        var gpu = w.Gpu;
        int reduce = transpose ? w.Shape.N : w.Shape.C, mp = PaddedChannels(transpose ? w.Shape.C : w.Shape.N);
        int rowGroup = gpu.RowGroup;
        var layout = gpu.Kernel(WeightLayout3x3Kernel,
            acc => acc.LoadStreamKernel<int, View, int, int, int, int, View>(WeightLayout3x3Kernel));
        layout(new KernelConfig(new Index2D(Gpu.DivUp(mp, rowGroup), Gpu.DivUp(reduce * 9, LayoutRowsPerWorkItem)), new Index2D(rowGroup, 1)),
            reduce * 9, w.View, w.Shape.N, w.Shape.C, mp, transpose ? 1 : 0, a.View);
        return a;
    }

    /// <summary>
    /// Rearranges frozen 3×3 weights once for the fast path, forward and backward-data, so a network whose weights
    /// never change (VGG19 during stylization) skips the per-call rearrangement: the operands of the kernel the device's
    /// current plan runs for this layer (direct or Winograd) at once, any other on first use (a later plan). Valid only
    /// while <paramref name="w"/> is not modified.
    /// </summary>
    public static PreparedConv3x3 Prepare3x3(Tensor w)
    {
        if (w.Shape.H != 3 || w.Shape.W != 3)
            throw new ArgumentException($"prepare 3×3 weights: weight has shape {w.Shape}; Cout×Cin×3×3 is required.");
        var prepared = new PreparedConv3x3(w);
        bool winograd = UsesWinograd(w.Gpu.Plan, w.Shape.C, w.Shape.N);
        foreach (bool transpose in new[] { false, true })
        {
            // The few-outputs kernel reads the weights as they are (conv1_1's backward-data on GPUs).
            int reduce = transpose ? w.Shape.N : w.Shape.C, m = transpose ? w.Shape.C : w.Shape.N;
            if (UsesFewOutputs(w.Gpu.Plan, reduce, m)) continue;
            if (winograd) prepared.WinogradOperand(transpose, w.Gpu.Plan.WinogradOutputTile);
            else prepared.DirectOperand(transpose, w.Gpu.Plan.Conv);
        }
        return prepared;
    }

    /// <summary>The direct kernels' K-major operand of <paramref name="w"/> (forward, or backward-data when <paramref name="transpose"/>), in a new tensor.</summary>
    internal static Tensor PrepareDirect(Tensor w, bool transpose)
    {
        int reduce = transpose ? w.Shape.N : w.Shape.C, mp = PaddedChannels(transpose ? w.Shape.C : w.Shape.N);
        return LayOut3x3(w, transpose, w.Gpu.Allocate(Shape4.Vector(reduce * 9 * mp)));
    }

    /// <summary><see cref="Forward"/> (3×3, stride 1, padding 1) with weights prepared by <see cref="Prepare3x3"/>.</summary>
    public static void Forward(Tensor x, PreparedConv3x3 w, Tensor? bias, Tensor y, bool fuseRelu)
    {
        CheckForward("conv2d forward (prepared 3×3)", x, w.Weight, bias, y, Conv2dParams.Same3x3);
        RunPlanned3x3(x, w.Weight, transpose: false, bias, fuseRelu, accumulate: false, y, w);
    }

    /// <summary>
    /// <see cref="BackwardData"/> (3×3, stride 1, padding 1) with weights prepared by <see cref="Prepare3x3"/>. With
    /// <paramref name="reluOutput"/> (dy's shape), dy is the gradient at the output of that ReLU and dx the gradient
    /// through the ReLU and the convolution: the convolution reads dy ⊙ [reluOutput &gt; 0], the bits of
    /// <see cref="Relu.Backward"/> followed by this call. The kernels that copy dy into a zero-padded buffer (Winograd,
    /// the register-blocked ones) gate the copy, one pass over memory fewer; the others first write the gated gradient
    /// over dy, so dy's contents are not kept.
    /// </summary>
    public static void BackwardData(Tensor dy, PreparedConv3x3 w, Tensor dx, bool accumulate, Tensor? reluOutput = null)
    {
        const string op = "conv2d backward-data (prepared 3×3)";
        CheckBackwardData(op, dy, w.Weight, dx, Conv2dParams.Same3x3);
        CheckReluOutput(op, dy, reluOutput);
        RunPlanned3x3(dy, w.Weight, transpose: true, null, relu: false, accumulate, dx, w, reluOutput);
    }

    /// <summary>
    /// a[k·mp + j] for k = c·9 + tap, j &lt; mp, from OIHW 3×3 weights w (cout × cin × 3 × 3), 0 for j ≥ M:
    /// forward (transpose = 0): c = input channel, j = output channel, a = w[j, c, tap] (M = cout);
    /// backward-data (transpose = 1): c = output channel, j = input channel, a = w[c, j, 8 − tap] (M = cin, kernel flipped).
    /// Grid (⌈mp / group⌉, ⌈K / 8⌉): work-item (j, r) writes column j of rows k = 8·r … 8·r + 7 (K = rows of a);
    /// consecutive work-items write consecutive addresses, and the only division is by the constant 9. (Reads are
    /// strided across work-items.)
    /// </summary>
    private static void WeightLayout3x3Kernel(int rows, View w, int cout, int cin, int mp, int transpose, View a)
    {
        int j = Grid.IdxX * Group.DimX + Group.IdxX;
        if (j >= mp) return;
        var row = new LayoutColumn(w, cout, cin, mp, transpose, a, j, rows);
        int k0 = Grid.IdxY * LayoutRowsPerWorkItem;
        row.Put(k0);
        row.Put(k0 + 1);
        row.Put(k0 + 2);
        row.Put(k0 + 3);
        row.Put(k0 + 4);
        row.Put(k0 + 5);
        row.Put(k0 + 6);
        row.Put(k0 + 7);
    }

    /// <summary>One column j of the rearranged weights a (see <see cref="WeightLayout3x3Kernel"/>).</summary>
    private readonly struct LayoutColumn(View w, int cout, int cin, int mp, int transpose, View a, int j, int rows)
    {
        public void Put(int k)
        {
            if (k >= rows) return;
            int c = ConstantDivision.Quotient(k, 9), tap = k - c * 9;
            a[k * mp + j] = FastPathWeight(w, cout, cin, transpose, j, c, tap);
        }
    }

    /// <summary>
    /// The weight the 3×3 fast path multiplies channel <paramref name="c"/> of its input by for output channel
    /// <paramref name="j"/> at tap 3·kh + kw, from OIHW weights w (cout × cin × 3 × 3), 0 past the channels: forward
    /// (transpose = 0) w[j, c, tap]; backward-data (transpose = 1; input = dy) w[c, j, 8 − tap], the kernel flipped.
    /// The K-major operand (<see cref="WeightLayout3x3Kernel"/>) and the tensor-core one (TensorCoreOperandKernel) hold it.
    /// </summary>
    private static float FastPathWeight(View w, int cout, int cin, int transpose, int j, int c, int tap)
    {
        if (transpose == 0) return j < cout && c < cin ? w[(j * cin + c) * 9 + tap] : 0f;
        return j < cin && c < cout ? w[(c * cin + j) * 9 + 8 - tap] : 0f;
    }

    /// <summary>
    /// padded[c, py, px] = in[c, py − 1, px − 1], 0 outside (a 1-pixel border, and columns up to wp); with
    /// <paramref name="gated"/> = 1 (specialized) in ⊙ [gate &gt; 0] instead of in (ReLU's backward, as Winograd's padding).
    /// Grid (⌈wp / group⌉, h + 2, c): work-items along x cover consecutive columns of one row.
    /// </summary>
    private static void ZeroPadKernel(SpecializedValue<int> gated, View input, View gate, int h, int w, int wp, View padded)
    {
        int px = Grid.IdxX * Group.DimX + Group.IdxX, py = Grid.IdxY, c = Grid.IdxZ;
        if (px >= wp) return;
        int y = py - 1, x = px - 1, i = (c * h + y) * w + x;
        padded[(c * (h + 2) + py) * wp + px] = y >= 0 && y < h && x >= 0 && x < w ? Gated(input, gate, i, gated.Value != 0) : 0f;
    }
}

/// <summary>
/// 3×3 weights rearranged for the fast path: the direct kernels' and Winograd's operands, forward and backward-data, each
/// made once, when first needed (<see cref="Conv2d.Prepare3x3"/> makes those of the current plan at once). Owns them.
/// </summary>
public sealed class PreparedConv3x3 : IDisposable
{
    private Tensor? forward, backward;
    private readonly Dictionary<(bool Transpose, Conv2d.TensorCoreRounding Rounding), Tensor> tensorCore = [];
    private readonly Dictionary<(bool Transpose, int OutputTile), Tensor> winograd = [];

    internal PreparedConv3x3(Tensor weight) => Weight = weight;

    /// <summary>The OIHW weights these operands were made from (not owned).</summary>
    public Tensor Weight { get; }

    /// <summary>The direct kernels' operand a (Conv2dFast3x3.cs) of the forward pass or of backward-data.</summary>
    internal Tensor DirectOperand(bool transpose)
    {
        ref var a = ref transpose ? ref backward : ref forward;
        return a ??= Conv2d.PrepareDirect(Weight, transpose);
    }

    /// <summary>
    /// The operand the direct kernel of <paramref name="tiles"/> reads: for the tensor-core kinds theirs
    /// (Conv2d.TensorCoreOperand: fragment order, rounded as the kernel rounds its stages on this device,
    /// Conv2d.TensorCoreRoundingOf), else <see cref="DirectOperand(bool)"/>.
    /// </summary>
    internal Tensor DirectOperand(bool transpose, ConvTiles tiles)
    {
        if (!tiles.Kind.IsTensorCore()) return DirectOperand(transpose);
        var rounding = Conv2d.TensorCoreRoundingOf(tiles, Weight.Gpu.Accelerator);
        if (!tensorCore.TryGetValue((transpose, rounding), out var a))
            tensorCore[(transpose, rounding)] = a = Conv2d.TensorCoreOperand(Weight, transpose, rounding);
        return a;
    }

    /// <summary>The Winograd operand U (Conv2dWinograd.cs) of F(<paramref name="outputTile"/>², 3×3), forward or backward-data.</summary>
    internal Tensor WinogradOperand(bool transpose, int outputTile)
    {
        if (!winograd.TryGetValue((transpose, outputTile), out var u))
            winograd[(transpose, outputTile)] = u = Conv2d.PrepareWinograd(Weight, transpose, outputTile);
        return u;
    }

    public void Dispose()
    {
        forward?.Dispose();
        backward?.Dispose();
        foreach (var u in winograd.Values) u.Dispose();
        winograd.Clear();
        foreach (var a in tensorCore.Values) a.Dispose();
        tensorCore.Clear();
    }
}
