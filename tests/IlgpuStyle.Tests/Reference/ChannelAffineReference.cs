using IlgpuStyle.Kernels;

namespace IlgpuStyle.Tests.Reference;

/// <summary>Plain CPU per-channel affine map with a channel permutation (ChannelAffine) in double precision, 3 channels.</summary>
public static class ChannelAffineReference
{
    /// <summary>y[c] = x[src[c]] · mul[c] + add[c].</summary>
    public static double[] Forward(double[] x, Shape4 s, ChannelAffine.Coefficients k)
    {
        int plane = s.Plane;
        var y = new double[x.Length];
        for (int c = 0; c < 3; c++)
        for (int p = 0; p < plane; p++)
            y[c * plane + p] = x[k.Src(c) * plane + p] * k.Mul(c) + k.Add(c);
        return y;
    }

    /// <summary>dx[src[c]] = dy[c] · mul[c] (src is a permutation: one term per dx element).</summary>
    public static double[] Backward(double[] dy, Shape4 s, ChannelAffine.Coefficients k)
    {
        int plane = s.Plane;
        var dx = new double[dy.Length];
        for (int c = 0; c < 3; c++)
        for (int p = 0; p < plane; p++)
            dx[k.Src(c) * plane + p] = dy[c * plane + p] * k.Mul(c);
        return dx;
    }
}
