using IlgpuStyle.Kernels;

namespace IlgpuStyle.Tests.Reference;

/// <summary>
/// Plain CPU references in double precision for spatial control: the mask multiply y = m^e ∘ x (one weight per
/// position, every channel), the guided Gram matrix G[i,j] = scale · Σ_p m(p)² F[i,p] F[j,p] straight from its
/// definition (not through F∘m), its backward by scattering each dG[i,j], and the guided style loss w·mean((G − A)²).
/// </summary>
public static class MaskReference
{
    public static double[] Multiply(double[] x, double[] m, Shape4 s, bool squared)
    {
        var y = new double[x.Length];
        for (int c = 0; c < s.C; c++)
        for (int p = 0; p < s.Plane; p++)
            y[c * s.Plane + p] = (squared ? m[p] * m[p] : m[p]) * x[c * s.Plane + p];
        return y;
    }

    public static double[] GuidedGram(double[] f, double[] m, Shape4 s, double scale)
    {
        int c = s.C, n = s.Plane;
        var g = new double[c * c];
        for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++)
        {
            double sum = 0;
            for (int p = 0; p < n; p++) sum += m[p] * m[p] * f[i * n + p] * f[j * n + p];
            g[i * c + j] = scale * sum;
        }
        return g;
    }

    /// <summary>G[i,j] depends on F[i,p] through m(p)²F[j,p] and on F[j,p] through m(p)²F[i,p]: scatter dG[i,j] into both.</summary>
    public static double[] GuidedGramBackward(double[] f, double[] m, Shape4 s, double[] dG, double scale)
    {
        int c = s.C, n = s.Plane;
        var df = new double[f.Length];
        for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++)
        for (int p = 0; p < n; p++)
        {
            double w = scale * dG[i * c + j] * m[p] * m[p];
            df[i * n + p] += w * f[j * n + p];
            df[j * n + p] += w * f[i * n + p];
        }
        return df;
    }

    /// <summary>weight · mean((G − A)²) over the C² entries, G the guided Gram matrix.</summary>
    public static double GuidedLoss(double[] f, double[] m, Shape4 s, double scale, double[] target, double weight)
    {
        var g = GuidedGram(f, m, s, scale);
        double sum = 0;
        for (int i = 0; i < g.Length; i++) sum += (g[i] - target[i]) * (g[i] - target[i]);
        return weight * sum / g.Length;
    }
}
