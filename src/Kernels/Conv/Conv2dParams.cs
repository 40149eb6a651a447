namespace IlgpuStyle.Kernels;

/// <summary>
/// Geometry of a 2-D convolution: kernel size, stride and zero padding per axis.
/// Output size per axis: out = (in + 2·pad − kernel) / stride + 1 (integer division).
/// </summary>
public readonly record struct Conv2dParams(int KernelH, int KernelW, int StrideH, int StrideW, int PadH, int PadW)
{
    /// <summary>3×3 kernel, stride 1, padding 1: output size equals input size (the VGG case).</summary>
    public static readonly Conv2dParams Same3x3 = new(3, 3, 1, 1, 1, 1);

    /// <summary>Square kernel with the same stride and padding on both axes.</summary>
    public static Conv2dParams Square(int kernel, int stride = 1, int pad = 0) => new(kernel, kernel, stride, stride, pad, pad);

    /// <summary>Throws <see cref="ArgumentException"/> unless kernel ≥ 1, stride ≥ 1 and pad ≥ 0.</summary>
    public void Validate()
    {
        if (KernelH < 1 || KernelW < 1 || StrideH < 1 || StrideW < 1 || PadH < 0 || PadW < 0)
            throw new ArgumentException($"conv2d: invalid parameters {this}; kernel and stride must be ≥ 1 and padding ≥ 0.");
    }

    /// <summary>
    /// Output height and width for an input of <paramref name="height"/>×<paramref name="width"/>.
    /// Throws <see cref="ArgumentException"/> if the parameters are invalid or the padded input is smaller than the kernel.
    /// </summary>
    public (int H, int W) OutputSize(int height, int width)
    {
        Validate();
        int paddedH = height + 2 * PadH, paddedW = width + 2 * PadW;
        if (height < 1 || width < 1 || paddedH < KernelH || paddedW < KernelW)
            throw new ArgumentException(
                $"conv2d: input {height}×{width} padded by ({PadH},{PadW}) is smaller than the {KernelH}×{KernelW} kernel.");
        return ((paddedH - KernelH) / StrideH + 1, (paddedW - KernelW) / StrideW + 1);
    }

    /// <summary>
    /// Weight shape for <paramref name="cout"/> output and <paramref name="cin"/> input channels: OIHW stored in a
    /// <see cref="Shape4"/> as (N = Cout, C = Cin, H = KernelH, W = KernelW).
    /// </summary>
    public Shape4 WeightShape(int cout, int cin) => new(cout, cin, KernelH, KernelW);

    /// <summary>Output shape (1×Cout×Hout×Wout) for input shape <paramref name="x"/> and <paramref name="cout"/> output channels.</summary>
    public Shape4 OutputShape(Shape4 x, int cout)
    {
        var (h, w) = OutputSize(x.H, x.W);
        return Shape4.Image(cout, h, w);
    }

    public override string ToString() =>
        $"kernel {KernelH}×{KernelW}, stride ({StrideH},{StrideW}), pad ({PadH},{PadW})";
}
