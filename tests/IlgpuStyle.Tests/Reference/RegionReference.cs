using IlgpuStyle.Kernels;

namespace IlgpuStyle.Tests.Reference;

/// <summary>Plain CPU rectangle copy between C×H×W maps (Regions.Copy).</summary>
public static class RegionReference
{
    /// <summary>dst[c, dy+i, dx+j] = (accumulate ? dst[…] : 0) + src[c, sy+i, sx+j]; returns a new array.</summary>
    public static float[] Copy(float[] src, Shape4 s, int sy, int sx, float[] dst, Shape4 d, int dy, int dx,
        int height, int width, bool accumulate)
    {
        var result = (float[])dst.Clone();
        for (int c = 0; c < s.C; c++)
        for (int i = 0; i < height; i++)
        for (int j = 0; j < width; j++)
        {
            int to = (c * d.H + dy + i) * d.W + dx + j;
            float v = src[(c * s.H + sy + i) * s.W + sx + j];
            result[to] = accumulate ? result[to] + v : v;
        }
        return result;
    }
}
