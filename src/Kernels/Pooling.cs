using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// 2×2 pooling with stride 2 on 1×C×H×W tensors (batch N = 1), VGG style: the output is
/// 1×C×⌊H/2⌋×⌊W/2⌋, and for odd H or W the last row or column is not covered by any window
/// (it gets no output and a zero gradient). Window (oh, ow) covers input rows 2oh, 2oh+1 and
/// columns 2ow, 2ow+1. Backward passes are gathers: one thread per input element, no atomics.
/// </summary>
public static class Pooling
{
    /// <summary>The pooled shape of <paramref name="x"/>: 1×C×⌊H/2⌋×⌊W/2⌋.</summary>
    public static Shape4 OutputShape(Shape4 x) => new(x.N, x.C, x.H / 2, x.W / 2);

    // ---- indexing shared by all four kernels ----

    /// <summary>Geometry of one launch: input plane H×W, output plane OH×OW.</summary>
    private readonly struct Geometry(int h, int w)
    {
        public readonly int H = h, W = w, OH = h / 2, OW = w / 2;

        /// <summary>Flat index of the top-left input element of output element o.</summary>
        public int WindowStart(int o)
        {
            int plane = OH * OW;
            int c = o / plane, r = o - c * plane;
            int oh = r / OW, ow = r - oh * OW;
            return c * H * W + 2 * oh * W + 2 * ow;
        }

        /// <summary>
        /// For input element i: the flat index of the output whose window holds it, or −1 when it lies in a
        /// dropped last row/column; <paramref name="slot"/> is its position in the window, row-major (0..3).
        /// </summary>
        public int OwningOutput(int i, out int slot)
        {
            int plane = H * W;
            int c = i / plane, r = i - c * plane;
            int h = r / W, w = r - h * W;
            int oh = h / 2, ow = w / 2;
            slot = (h - 2 * oh) * 2 + (w - 2 * ow);
            if (oh >= OH || ow >= OW) return -1;
            return c * OH * OW + oh * OW + ow;
        }
    }

    private static void Write(View dst, int i, float g, int accumulate)
    {
        if (accumulate != 0) dst[i] += g;
        else dst[i] = g;
    }

    // y[o] = max of the 2×2 window
    private static void MaxForwardKernel(Index1D o, View x, View y, int h, int w)
    {
        int s = new Geometry(h, w).WindowStart(o);
        y[o] = IntrinsicMath.Max(IntrinsicMath.Max(x[s], x[s + 1]), IntrinsicMath.Max(x[s + w], x[s + w + 1]));
    }

    // dx[i] = dy[o] if i is the first element of window o (row-major) equal to the max y[o], else 0
    private static void MaxBackwardKernel(Index1D i, View x, View y, View dy, View dx, int h, int w, int accumulate)
    {
        var geo = new Geometry(h, w);
        int o = geo.OwningOutput(i, out int slot);
        float g = 0f;
        if (o >= 0)
        {
            int s = geo.WindowStart(o);
            float m = y[o];
            int first = x[s] == m ? 0 : x[s + 1] == m ? 1 : x[s + w] == m ? 2 : x[s + w + 1] == m ? 3 : -1;
            if (first == slot) g = dy[o];
        }
        Write(dx, i, g, accumulate);
    }

    // y[o] = ¼ · Σ window
    private static void AvgForwardKernel(Index1D o, View x, View y, int h, int w)
    {
        int s = new Geometry(h, w).WindowStart(o);
        y[o] = 0.25f * (x[s] + x[s + 1] + x[s + w] + x[s + w + 1]);
    }

    // dx[i] = ¼ · dy[o] for i in window o, 0 in a dropped row/column
    private static void AvgBackwardKernel(Index1D i, View dy, View dx, int h, int w, int accumulate)
    {
        int o = new Geometry(h, w).OwningOutput(i, out _);
        Write(dx, i, o >= 0 ? 0.25f * dy[o] : 0f, accumulate);
    }

    /// <summary>y ← 2×2 max pooling of x. y must have shape <see cref="OutputShape"/>(x).</summary>
    public static void MaxForward(Tensor x, Tensor y)
    {
        CheckPooled("max pool", x, "y", y);
        y.Gpu.Kernel(MaxForwardKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, View, int, int>(MaxForwardKernel))(
            y.Count, x.View, y.View, x.Shape.H, x.Shape.W);
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
        dx.Gpu.Kernel(MaxBackwardKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, View, View, View, View, int, int, int>(MaxBackwardKernel))(
            dx.Count, x.View, y.View, dy.View, dx.View, x.Shape.H, x.Shape.W, accumulate ? 1 : 0);
    }

    /// <summary>y ← 2×2 average pooling of x. y must have shape <see cref="OutputShape"/>(x).</summary>
    public static void AvgForward(Tensor x, Tensor y)
    {
        CheckPooled("avg pool", x, "y", y);
        y.Gpu.Kernel(AvgForwardKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, View, int, int>(AvgForwardKernel))(
            y.Count, x.View, y.View, x.Shape.H, x.Shape.W);
    }

    /// <summary>
    /// Gradient of 2×2 average pooling: every input in window o gets dy[o]/4, a dropped last row/column
    /// gets 0. The geometry comes from dx (the input's shape). dx ← g, or dx ← dx + g when accumulate.
    /// </summary>
    public static void AvgBackward(Tensor dy, Tensor dx, bool accumulate)
    {
        CheckPooled("avg pool backward", dx, "dy", dy);
        dx.Gpu.Kernel(AvgBackwardKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, View, int, int, int>(AvgBackwardKernel))(
            dx.Count, dy.View, dx.View, dx.Shape.H, dx.Shape.W, accumulate ? 1 : 0);
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
