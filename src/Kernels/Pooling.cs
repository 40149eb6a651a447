// Reference: tests/IlgpuStyle.Tests/Reference/PoolingReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/PoolingTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// 2×2 pooling with stride 2 on 1×C×H×W tensors (batch N = 1), VGG style: the output is
/// 1×C×⌊H/2⌋×⌊W/2⌋, and for odd H or W the last row or column is not covered by any window
/// (it gets no output and a zero gradient). Window (oh, ow) covers input rows 2oh, 2oh+1 and
/// columns 2ow, 2ow+1. One work-item per window on a 3-D grid (no per-element integer division); the backward
/// passes write each input's gradient exactly once (the windows do not overlap), no atomics.
/// </summary>
public static class Pooling
{
    /// <summary>The pooled shape of <paramref name="x"/>: 1×C×⌊H/2⌋×⌊W/2⌋.</summary>
    public static Shape4 OutputShape(Shape4 x) => new(x.N, x.C, x.H / 2, x.W / 2);

    // ---- indexing shared by all four kernels ----

    /// <summary>
    /// The window of the calling work-item on a <see cref="Gpu.RowGrid"/> over ⌈W/2⌉ × ⌈H/2⌉ × C: window (ow, oh)
    /// of channel c covers input rows 2oh, 2oh+1 and columns 2ow, 2ow+1; it is <see cref="Full"/> (has an output)
    /// unless it lies in a dropped odd last row or column. <see cref="Start"/> is its top-left input index, <see cref="Pooled"/> the index of its output.
    /// </summary>
    private readonly struct Window
    {
        public readonly int W, Start, Pooled;
        public readonly bool Exists, Full, HasRight, HasBelow;

        public Window(int h, int w, int ow0 = 0, int oh0 = 0)
        {
            int ow = ow0 + Grid.IdxX * Group.DimX + Group.IdxX, oh = oh0 + Grid.IdxY, c = Grid.IdxZ;
            int oH = h / 2, oW = w / 2;
            W = w;
            Exists = 2 * ow < w;
            HasRight = 2 * ow + 1 < w;
            HasBelow = 2 * oh + 1 < h;
            Full = ow < oW && oh < oH;
            Start = (c * h + 2 * oh) * w + 2 * ow;
            Pooled = (c * oH + oh) * oW + ow;
        }

        /// <summary>Writes g0..g3 (row-major window slots) to the inputs of this window that exist.</summary>
        public void Scatter(View dx, float g0, float g1, float g2, float g3, int accumulate)
        {
            Output.Store(dx, Start, g0, accumulate);
            if (HasRight) Output.Store(dx, Start + 1, g1, accumulate);
            if (!HasBelow) return;
            Output.Store(dx, Start + W, g2, accumulate);
            if (HasRight) Output.Store(dx, Start + W + 1, g3, accumulate);
        }
    }


    // y[o] = max of the 2×2 window. checked (compile-time) 0: every work-item's window is whole (no branch, so PoCL
    // vectorizes the work-items); 1: windows past the pooled map (the grid's rounding, a dropped row or column) skipped.
    private static void MaxForwardKernel(SpecializedValue<int> check, View x, View y, int h, int w, int ow0)
    {
        var win = new Window(h, w, ow0);
        if (check.Value != 0 && !win.Full) return;
        int s = win.Start;
        y[win.Pooled] = IntrinsicMath.Max(IntrinsicMath.Max(x[s], x[s + 1]), IntrinsicMath.Max(x[s + w], x[s + w + 1]));
    }

    /// <summary>Bits of <see cref="MaxBackwardKernel"/>'s compile-time mode.</summary>
    private const int BackwardAccumulate = 1, BackwardChecked = 2;

    // dx[i] = dy[o] if i is the first element of window o (row-major) equal to the max y[o], else 0.
    // mode (compile-time): BackwardAccumulate — dx += instead of dx =; BackwardChecked — windows may lie past the
    // pooled map (the odd last row or column, the grid's rounding): checked, as below. Without it every work-item's
    // window is whole, so the body has no branch and no early exit: PoCL then vectorizes the loads and stores (the
    // checked form's masks made it gather and scatter them; 4 pool backwards at 512² on the Intel Xeon: 56–62 → 20 ms
    // with AVX-512 code, 57 → 24 ms with AVX2 code).
    private static void MaxBackwardKernel(SpecializedValue<int> mode, View x, View y, View dy, View dx, int h, int w, int ow0, int oh0)
    {
        var win = new Window(h, w, ow0, oh0);
        int accumulate = mode.Value & BackwardAccumulate;
        if ((mode.Value & BackwardChecked) == 0)
        {
            int s = win.Start;
            float m = y[win.Pooled], d = dy[win.Pooled];
            bool e0 = x[s] == m, e1 = x[s + 1] == m, e2 = x[s + w] == m, e3 = x[s + w + 1] == m;
            Output.Store(dx, s, e0 ? d : 0f, accumulate);
            Output.Store(dx, s + 1, !e0 && e1 ? d : 0f, accumulate);
            Output.Store(dx, s + w, !e0 && !e1 && e2 ? d : 0f, accumulate);
            Output.Store(dx, s + w + 1, !e0 && !e1 && !e2 && e3 ? d : 0f, accumulate);
            return;
        }
        if (!win.Exists) return;
        float g0 = 0f, g1 = 0f, g2 = 0f, g3 = 0f;
        if (win.Full)
        {
            int s = win.Start;
            float m = y[win.Pooled], d = dy[win.Pooled];
            if (x[s] == m) g0 = d;
            else if (x[s + 1] == m) g1 = d;
            else if (x[s + w] == m) g2 = d;
            else if (x[s + w + 1] == m) g3 = d;
        }
        win.Scatter(dx, g0, g1, g2, g3, accumulate);
    }

    // ---- the max backward's whole windows of even-width maps, each row pair one 64-bit store (FloatPairs) ----
    // With W even, the two columns of a window row are one aligned word, and work-item ow writes words ow + const:
    // consecutive work-items store consecutive words, plain vector stores, where the float kernel above (two floats apart
    // per work-item) gets scatters (4 max-pool backwards at 512²: 44 → 13 ms on a Zen 5, doc/PERFORMANCE.md, stop 30).
    // Loads stay floats (LLVM loads interleaved pairs as vectors and shuffles; the forward on words took twice its float
    // time). Launch as the whole-window float kernel (grid (bulk / group, H / 2, C), group (group, 1, 1)); accumulate
    // (compile-time): dx += instead of dx =.
    private static void MaxBackwardPairsKernel(SpecializedValue<int> accumulate, View x, View y, View dy, ArrayView<long> dx, int h, int w)
    {
        int ow = Grid.IdxX * Group.DimX + Group.IdxX, oh = Grid.IdxY, c = Grid.IdxZ, half = w / 2;
        int top = (c * h + 2 * oh) * half + ow, pooled = (c * (h / 2) + oh) * half + ow, s = 2 * top; // top: the window's first word
        float m = y[pooled], d = dy[pooled];
        bool e0 = x[s] == m, e1 = x[s + 1] == m, e2 = x[s + w] == m, e3 = x[s + w + 1] == m;
        float g0 = e0 ? d : 0f, g1 = !e0 && e1 ? d : 0f, g2 = !e0 && !e1 && e2 ? d : 0f, g3 = !e0 && !e1 && !e2 && e3 ? d : 0f;
        FloatPairs.Store(dx, top, g0, g1, accumulate.Value);
        FloatPairs.Store(dx, top + half, g2, g3, accumulate.Value);
    }

    // y[o] = ¼ · Σ window
    private static void AvgForwardKernel(View x, View y, int h, int w)
    {
        var win = new Window(h, w);
        if (!win.Full) return;
        int s = win.Start;
        y[win.Pooled] = 0.25f * (x[s] + x[s + 1] + x[s + w] + x[s + w + 1]);
    }

    // dx[i] = ¼ · dy[o] for i in window o, 0 in a dropped row/column
    private static void AvgBackwardKernel(View dy, View dx, int h, int w, int accumulate)
    {
        var win = new Window(h, w);
        if (!win.Exists) return;
        float g = win.Full ? 0.25f * dy[win.Pooled] : 0f;
        win.Scatter(dx, g, g, g, g, accumulate);
    }

    /// <summary>
    /// The windows along a row that the unchecked launches take — <paramref name="windows"/> rounded down to whole
    /// groups of the row grid's width — and that width.
    /// </summary>
    private static (int Bulk, int Group) WholeGroups(Gpu gpu, int windows)
    {
        int group = gpu.Plan.RowGroup;
        return (windows / group * group, group);
    }

    /// <summary>One work-item per window, including the partial windows of a dropped odd last row/column.</summary>
    private static KernelConfig Windows(Tensor input) =>
        input.Gpu.RowGrid(Gpu.DivUp(input.Shape.W, 2), Gpu.DivUp(input.Shape.H, 2), input.Shape.C);

    /// <summary>y ← 2×2 max pooling of x. y must have shape <see cref="OutputShape"/>(x).</summary>
    public static void MaxForward(Tensor x, Tensor y)
    {
        CheckPooled("max pool", x, "y", y);
        var gpu = y.Gpu;
        var kernel = gpu.Kernel(MaxForwardKernel, a => a.LoadStreamKernel<SpecializedValue<int>, View, View, int, int, int>(MaxForwardKernel));
        var (bulk, group) = WholeGroups(gpu, x.Shape.W / 2);
        int h = x.Shape.H, w = x.Shape.W, c = x.Shape.C;
        if (bulk > 0)
            kernel(new KernelConfig(new Index3D(bulk / group, h / 2, c), new Index3D(group, 1, 1)), SpecializedValue.New(0), x.View, y.View, h, w, 0);
        if (bulk < w / 2)
            kernel(gpu.RowGrid(w / 2 - bulk, h / 2, c), SpecializedValue.New(1), x.View, y.View, h, w, bulk);
    }

    /// <summary>
    /// Gradient of 2×2 max pooling. <paramref name="y"/> must be MaxForward(x). Each window's gradient dy goes
    /// to exactly one input: the first element of the window (row-major) equal to its max; all other inputs,
    /// including a dropped last row/column, get 0. dx ← g, or dx ← dx + g when <paramref name="accumulate"/>.
    /// </summary>
    public static void MaxBackward(Tensor x, Tensor y, Tensor dy, Tensor dx, bool accumulate)
    {
        CheckPooled("max pool backward", x, "y", y);
        CheckPooled("max pool backward", x, "dy", dy);
        ShapeCheck.Same("max pool backward", "x", x.Shape, "dx", dx.Shape);
        ShapeCheck.SameDevice("max pool backward", x, dx);
        var gpu = dx.Gpu;
        var kernel = gpu.Kernel(MaxBackwardKernel,
            a => a.LoadStreamKernel<SpecializedValue<int>, View, View, View, View, int, int, int, int>(MaxBackwardKernel));
        int h = x.Shape.H, w = x.Shape.W, c = x.Shape.C, oH = h / 2, mode = accumulate ? BackwardAccumulate : 0;
        var (bulk, group) = WholeGroups(gpu, w / 2);
        // Whole windows in whole groups unchecked; the columns past them (the group's rounding, an odd last column)
        // and an odd last row checked.
        if (bulk > 0 && w % 2 == 0)
            gpu.Kernel(MaxBackwardPairsKernel,
                a => a.LoadStreamKernel<SpecializedValue<int>, View, View, View, ArrayView<long>, int, int>(MaxBackwardPairsKernel))(
                new KernelConfig(new Index3D(bulk / group, oH, c), new Index3D(group, 1, 1)), SpecializedValue.New(mode),
                x.View, y.View, dy.View, FloatPairs.Words(dx), h, w);
        else if (bulk > 0)
            kernel(new KernelConfig(new Index3D(bulk / group, oH, c), new Index3D(group, 1, 1)), SpecializedValue.New(mode),
                x.View, y.View, dy.View, dx.View, h, w, 0, 0);
        int windowsX = Gpu.DivUp(w, 2), windowsY = Gpu.DivUp(h, 2);
        if (bulk < windowsX)
            kernel(gpu.RowGrid(windowsX - bulk, windowsY, c), SpecializedValue.New(mode | BackwardChecked),
                x.View, y.View, dy.View, dx.View, h, w, bulk, 0);
        if (oH < windowsY && bulk > 0)
            kernel(gpu.RowGrid(bulk, 1, c), SpecializedValue.New(mode | BackwardChecked), x.View, y.View, dy.View, dx.View, h, w, 0, oH);
    }

    /// <summary>y ← 2×2 average pooling of x. y must have shape <see cref="OutputShape"/>(x).</summary>
    public static void AvgForward(Tensor x, Tensor y)
    {
        CheckPooled("avg pool", x, "y", y);
        y.Gpu.Kernel(AvgForwardKernel, a => a.LoadStreamKernel<View, View, int, int>(AvgForwardKernel))(
            Windows(x), x.View, y.View, x.Shape.H, x.Shape.W);
    }

    /// <summary>
    /// Gradient of 2×2 average pooling: every input in window o gets dy[o]/4, a dropped last row/column
    /// gets 0. The geometry comes from dx (the input's shape). dx ← g, or dx ← dx + g when accumulate.
    /// </summary>
    public static void AvgBackward(Tensor dy, Tensor dx, bool accumulate)
    {
        CheckPooled("avg pool backward", dx, "dy", dy);
        dx.Gpu.Kernel(AvgBackwardKernel, a => a.LoadStreamKernel<View, View, int, int, int>(AvgBackwardKernel))(
            Windows(dx), dy.View, dx.View, dx.Shape.H, dx.Shape.W, accumulate ? 1 : 0);
    }

    private static void CheckPooled(string op, Tensor input, string name, Tensor pooled)
    {
        ShapeCheck.BatchOne(op, "input", input.Shape);
        if (input.Shape.H < 2 || input.Shape.W < 2)
            throw new ArgumentException($"{op}: input has shape {input.Shape}; 2×2 pooling needs H ≥ 2 and W ≥ 2.");
        var expected = OutputShape(input.Shape);
        if (pooled.Shape != expected)
            throw new ArgumentException(
                $"{op}: {name} has shape {pooled.Shape} but input of shape {input.Shape} pools to {expected}.");
        ShapeCheck.SameDevice(op, input, pooled);
    }
}
