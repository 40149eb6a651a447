namespace IlgpuStyle.Kernels;

/// <summary>
/// Shape of an NCHW float32 tensor. The whole library works on batch 1 (N = 1): style transfer
/// optimizes one image at a time, and every kernel indexes as if N were 1 unless it says otherwise.
/// Vectors and scalars are stored as 1×C×1×1 and 1×1×1×1.
/// </summary>
public readonly record struct Shape4(int N, int C, int H, int W)
{
    public static Shape4 Image(int c, int h, int w) => new(1, c, h, w);
    public static Shape4 Vector(int length) => new(1, length, 1, 1);
    public static readonly Shape4 Scalar = new(1, 1, 1, 1);

    /// <summary>Number of elements.</summary>
    public int Count => checked(N * C * H * W);

    /// <summary>H·W, the size of one channel plane.</summary>
    public int Plane => H * W;

    public override string ToString() => $"{N}×{C}×{H}×{W}";
}
