using IlgpuStyle.Kernels;

namespace IlgpuStyle.Tests.Reference;

/// <summary>Plain CPU Gram matrix in double precision: F is C×P (P = H·W), G[i,j] = scale · Σ_p F[i,p]·F[j,p].</summary>
public static class GramReference
{
    public static double[] Forward(double[] f, Shape4 s, double scale)
    {
        int c = s.C, p = s.Plane;
        var g = new double[c * c];
        for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++)
        {
            double sum = 0;
            for (int k = 0; k < p; k++) sum += f[i * p + k] * f[j * p + k];
            g[i * c + j] = scale * sum;
        }
        return g;
    }

    /// <summary>
    /// Chain rule straight from the definition: G[i,j] depends on F[i,p] (through F[j,p]) and on F[j,p]
    /// (through F[i,p]), so each dG[i,j] scatters scale·dG[i,j]·F[j,p] into df[i,p] and scale·dG[i,j]·F[i,p]
    /// into df[j,p].
    /// </summary>
    public static double[] Backward(double[] f, Shape4 s, double[] dG, double scale)
    {
        int c = s.C, p = s.Plane;
        var df = new double[f.Length];
        for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++)
        for (int k = 0; k < p; k++)
        {
            df[i * p + k] += scale * dG[i * c + j] * f[j * p + k];
            df[j * p + k] += scale * dG[i * c + j] * f[i * p + k];
        }
        return df;
    }
}
