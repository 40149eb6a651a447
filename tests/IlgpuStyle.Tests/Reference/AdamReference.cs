namespace IlgpuStyle.Tests.Reference;

/// <summary>Adam step t (1-based) in double, written out as in Kingma &amp; Ba, Algorithm 1 (with PyTorch's ε placement).</summary>
public static class AdamReference
{
    public static void Step(double[] x, double[] g, double[] m, double[] v, int t, double lr, double beta1, double beta2, double eps)
    {
        for (int i = 0; i < x.Length; i++)
        {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i];
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
            double mHat = m[i] / (1 - Math.Pow(beta1, t));
            double vHat = v[i] / (1 - Math.Pow(beta2, t));
            x[i] -= lr * mHat / (Math.Sqrt(vHat) + eps);
        }
    }
}
