// Reference: tests/IlgpuStyle.Tests/Reference/RegionReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/RegionTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Copies a rectangle of every channel between two feature maps of the same channel count — what the tiled evaluation
/// (IlgpuStyle.Stylize.Tiling) uses to cut tiles out of an image, cut a tile's owned part out of its activations, and
/// put a tile's gradient back into the image's:
/// <code>
///   dst[c, dstY + i, dstX + j]  ←  src[c, srcY + i, srcX + j]        (or += when accumulating)
///   for c &lt; C, i &lt; height, j &lt; width
/// </code>
/// One work-item per element on a <see cref="Gpu.RowGrid"/> (width × height × C): no division per element.
/// </summary>
public static class Regions
{
    private static void CopyKernel(View src, int srcH, int srcW, int srcY, int srcX,
        View dst, int dstH, int dstW, int dstY, int dstX, int width, int accumulate)
    {
        int j = Grid.IdxX * Group.DimX + Group.IdxX, i = Grid.IdxY, c = Grid.IdxZ;
        if (j >= width) return;
        float v = src[(c * srcH + srcY + i) * srcW + srcX + j];
        Output.Store(dst, (c * dstH + dstY + i) * dstW + dstX + j, v, accumulate);
    }

    /// <summary>
    /// Copies the <paramref name="height"/> × <paramref name="width"/> rectangle at (<paramref name="srcY"/>,
    /// <paramref name="srcX"/>) of <paramref name="src"/> to (<paramref name="dstY"/>, <paramref name="dstX"/>) of
    /// <paramref name="dst"/>, every channel; adds instead when <paramref name="accumulate"/>. Both rectangles must lie
    /// inside their maps; an empty rectangle copies nothing. src and dst must not be the same tensor.
    /// </summary>
    public static void Copy(Tensor src, int srcY, int srcX, Tensor dst, int dstY, int dstX, int height, int width,
        bool accumulate = false)
    {
        const string op = "region copy";
        ShapeCheck.BatchOne(op, "src", src.Shape);
        ShapeCheck.BatchOne(op, "dst", dst.Shape);
        ShapeCheck.SameDevice(op, src, dst);
        if (src.Shape.C != dst.Shape.C)
            throw new ArgumentException($"{op}: src has shape {src.Shape} but dst has shape {dst.Shape}; the channel counts must be equal.");
        if (ReferenceEquals(src, dst)) throw new ArgumentException($"{op}: src and dst are the same tensor.");
        if (height < 0 || width < 0) throw new ArgumentException($"{op}: a {height}×{width} rectangle.");
        Inside(op, "src", src.Shape, srcY, srcX, height, width);
        Inside(op, "dst", dst.Shape, dstY, dstX, height, width);
        if (height == 0 || width == 0) return;
        dst.Gpu.Kernel(CopyKernel, a => a.LoadStreamKernel<View, int, int, int, int, View, int, int, int, int, int, int>(CopyKernel))(
            dst.Gpu.RowGrid(width, height, src.Shape.C), src.View, src.Shape.H, src.Shape.W, srcY, srcX,
            dst.View, dst.Shape.H, dst.Shape.W, dstY, dstX, width, accumulate ? 1 : 0);
    }

    private static void Inside(string op, string name, Shape4 s, int y, int x, int height, int width)
    {
        if (y < 0 || x < 0 || (long)y + height > s.H || (long)x + width > s.W)
            throw new ArgumentException($"{op}: the {height}×{width} rectangle at ({y}, {x}) is outside {name} of shape {s}.");
    }
}
