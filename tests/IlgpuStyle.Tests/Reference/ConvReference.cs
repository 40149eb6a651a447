using IlgpuStyle.Kernels;

namespace IlgpuStyle.Tests.Reference;

/// <summary>
/// Plain CPU loops for 2-D convolution in double precision (batch 1, NCHW, weights OIHW = Cout×Cin×KH×KW,
/// cross-correlation, zero padding). Deliberately written in the most direct form: the backward passes
/// scatter (loop over every forward term and add its contribution), unlike the device kernels, which gather.
/// </summary>
public static class ConvReference
{
    public static (int H, int W) OutputSize(Shape4 x, Conv2dParams p) =>
        ((x.H + 2 * p.PadH - p.KernelH) / p.StrideH + 1, (x.W + 2 * p.PadW - p.KernelW) / p.StrideW + 1);

    /// <summary>y[o,oy,ox] = b[o] + Σ_i Σ_kh Σ_kw w[o,i,kh,kw] · x[i, oy·sH + kh − pH, ox·sW + kw − pW], then max(·,0) if relu.</summary>
    public static double[] Forward(double[] x, Shape4 xs, double[] w, Shape4 ws, double[]? bias, Conv2dParams p, bool relu = false)
    {
        var (oh, ow) = OutputSize(xs, p);
        int cout = ws.N;
        var y = new double[cout * oh * ow];
        ForEachTerm(xs, ws, p, (o, oy, ox, i, iy, ix, kh, kw) =>
            y[(o * oh + oy) * ow + ox] += w[WeightIndex(ws, o, i, kh, kw)] * x[(i * xs.H + iy) * xs.W + ix]);
        for (int o = 0; o < cout; o++)
            for (int q = 0; q < oh * ow; q++)
            {
                double v = y[o * oh * ow + q] + (bias?[o] ?? 0.0);
                y[o * oh * ow + q] = relu ? Math.Max(v, 0.0) : v;
            }
        return y;
    }

    /// <summary>dx[i,iy,ix] = Σ over forward terms that read x[i,iy,ix] of w[o,i,kh,kw] · dy[o,oy,ox].</summary>
    public static double[] BackwardData(double[] dy, double[] w, Shape4 ws, Shape4 xs, Conv2dParams p)
    {
        var (oh, ow) = OutputSize(xs, p);
        var dx = new double[xs.Count];
        ForEachTerm(xs, ws, p, (o, oy, ox, i, iy, ix, kh, kw) =>
            dx[(i * xs.H + iy) * xs.W + ix] += w[WeightIndex(ws, o, i, kh, kw)] * dy[(o * oh + oy) * ow + ox]);
        return dx;
    }

    /// <summary>dw[o,i,kh,kw] = Σ_{oy,ox} dy[o,oy,ox] · x[i, oy·sH + kh − pH, ox·sW + kw − pW]; db[o] = Σ dy[o].</summary>
    public static (double[] Dw, double[] Db) BackwardWeights(double[] x, Shape4 xs, double[] dy, Shape4 ws, Conv2dParams p)
    {
        var (oh, ow) = OutputSize(xs, p);
        var dw = new double[ws.Count];
        ForEachTerm(xs, ws, p, (o, oy, ox, i, iy, ix, kh, kw) =>
            dw[WeightIndex(ws, o, i, kh, kw)] += dy[(o * oh + oy) * ow + ox] * x[(i * xs.H + iy) * xs.W + ix]);
        var db = new double[ws.N];
        for (int o = 0; o < ws.N; o++)
            for (int q = 0; q < oh * ow; q++) db[o] += dy[o * oh * ow + q];
        return (dw, db);
    }

    private static int WeightIndex(Shape4 ws, int o, int i, int kh, int kw) => ((o * ws.C + i) * ws.H + kh) * ws.W + kw;

    private delegate void Term(int o, int oy, int ox, int i, int iy, int ix, int kh, int kw);

    // Every (output element, tap) pair whose input position lies inside the image (padding contributes 0).
    private static void ForEachTerm(Shape4 xs, Shape4 ws, Conv2dParams p, Term term)
    {
        var (oh, ow) = OutputSize(xs, p);
        for (int o = 0; o < ws.N; o++)
        for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
        for (int i = 0; i < xs.C; i++)
        for (int kh = 0; kh < p.KernelH; kh++)
        for (int kw = 0; kw < p.KernelW; kw++)
        {
            int iy = oy * p.StrideH + kh - p.PadH, ix = ox * p.StrideW + kw - p.PadW;
            if (iy >= 0 && iy < xs.H && ix >= 0 && ix < xs.W) term(o, oy, ox, i, iy, ix, kh, kw);
        }
    }

    public static double[] ToDouble(float[] a) => a.Select(v => (double)v).ToArray();
}
