using IlgpuStyle.Kernels;

namespace IlgpuStyle.Tests.Reference;

/// <summary>
/// Plain CPU 2×2 stride-2 pooling in double precision on 1×C×H×W (output 1×C×⌊H/2⌋×⌊W/2⌋). The backward
/// passes loop over the windows and scatter into dx — the opposite direction from the device's gather.
/// </summary>
public static class PoolingReference
{
    private static int At(Shape4 s, int c, int h, int w) => (c * s.H + h) * s.W + w;

    public static double[] MaxForward(double[] x, Shape4 s) => Windows(x, s, v => v.Max());

    public static double[] AvgForward(double[] x, Shape4 s) => Windows(x, s, v => v.Average());

    /// <summary>dy of each window goes to its first maximum in row-major order (strict &gt; scan).</summary>
    public static double[] MaxBackward(double[] x, Shape4 s, double[] dy)
    {
        var dx = new double[x.Length];
        var o = Pooling.OutputShape(s);
        for (int c = 0; c < s.C; c++)
        for (int oh = 0; oh < o.H; oh++)
        for (int ow = 0; ow < o.W; ow++)
        {
            int best = At(s, c, 2 * oh, 2 * ow);
            for (int dh = 0; dh < 2; dh++)
            for (int dw = 0; dw < 2; dw++)
            {
                int k = At(s, c, 2 * oh + dh, 2 * ow + dw);
                if (x[k] > x[best]) best = k;
            }
            dx[best] += dy[At(o, c, oh, ow)];
        }
        return dx;
    }

    public static double[] AvgBackward(Shape4 s, double[] dy)
    {
        var dx = new double[s.Count];
        var o = Pooling.OutputShape(s);
        for (int c = 0; c < s.C; c++)
        for (int oh = 0; oh < o.H; oh++)
        for (int ow = 0; ow < o.W; ow++)
        for (int dh = 0; dh < 2; dh++)
        for (int dw = 0; dw < 2; dw++)
            dx[At(s, c, 2 * oh + dh, 2 * ow + dw)] += dy[At(o, c, oh, ow)] / 4;
        return dx;
    }

    private static double[] Windows(double[] x, Shape4 s, Func<double[], double> reduce)
    {
        var o = Pooling.OutputShape(s);
        var y = new double[o.Count];
        for (int c = 0; c < s.C; c++)
        for (int oh = 0; oh < o.H; oh++)
        for (int ow = 0; ow < o.W; ow++)
            y[At(o, c, oh, ow)] = reduce([
                x[At(s, c, 2 * oh, 2 * ow)], x[At(s, c, 2 * oh, 2 * ow + 1)],
                x[At(s, c, 2 * oh + 1, 2 * ow)], x[At(s, c, 2 * oh + 1, 2 * ow + 1)]]);
        return y;
    }
}
