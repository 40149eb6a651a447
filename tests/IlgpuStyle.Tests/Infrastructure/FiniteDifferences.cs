namespace IlgpuStyle.Tests;

/// <summary>Central finite differences: ∂f/∂xᵢ ≈ (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h.</summary>
public static class FiniteDifferences
{
    /// <summary>In double precision.</summary>
    public static double[] Gradient(Func<double[], double> f, double[] x, double h = 1e-5) =>
        Central(f, x, (v, sign) => v + sign * h, 2 * h);

    /// <summary>Same, for a function evaluated in float32 (e.g. on the device): use a larger step.</summary>
    public static double[] Gradient(Func<float[], double> f, float[] x, float h = 1e-2f) =>
        Central(f, x, (v, sign) => v + sign * h, 2.0 * h);

    /// <summary><paramref name="step"/>(xᵢ, ±1) is xᵢ ± h, computed in the element type; <paramref name="width"/> is 2h.</summary>
    private static double[] Central<T>(Func<T[], double> f, T[] x, Func<T, int, T> step, double width)
    {
        var g = new double[x.Length];
        var p = (T[])x.Clone();
        for (int i = 0; i < x.Length; i++)
        {
            T xi = p[i];
            p[i] = step(xi, +1); double fp = f(p);
            p[i] = step(xi, -1); double fm = f(p);
            p[i] = xi;
            g[i] = (fp - fm) / width;
        }
        return g;
    }

    public static double[] ToDouble(float[] a) => a.Select(v => (double)v).ToArray();
}
