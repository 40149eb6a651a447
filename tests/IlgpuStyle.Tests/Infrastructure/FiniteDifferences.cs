namespace IlgpuStyle.Tests;

/// <summary>Central finite differences in double precision: ∂f/∂xᵢ ≈ (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h.</summary>
public static class FiniteDifferences
{
    public static double[] Gradient(Func<double[], double> f, double[] x, double h = 1e-5)
    {
        var g = new double[x.Length];
        var p = (double[])x.Clone();
        for (int i = 0; i < x.Length; i++)
        {
            double xi = p[i];
            p[i] = xi + h; double fp = f(p);
            p[i] = xi - h; double fm = f(p);
            p[i] = xi;
            g[i] = (fp - fm) / (2 * h);
        }
        return g;
    }

    /// <summary>Same, for a function evaluated in float32 (e.g. on the device): use a larger step.</summary>
    public static double[] Gradient(Func<float[], double> f, float[] x, float h = 1e-2f)
    {
        var g = new double[x.Length];
        var p = (float[])x.Clone();
        for (int i = 0; i < x.Length; i++)
        {
            float xi = p[i];
            p[i] = xi + h; double fp = f(p);
            p[i] = xi - h; double fm = f(p);
            p[i] = xi;
            g[i] = (fp - fm) / (2.0 * h);
        }
        return g;
    }

    public static double[] ToDouble(float[] a) => a.Select(v => (double)v).ToArray();
}
