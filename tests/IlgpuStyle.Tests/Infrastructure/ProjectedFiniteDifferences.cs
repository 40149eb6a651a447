namespace IlgpuStyle.Tests;

/// <summary>
/// Gradient checks for ops with a tensor output: the scalar L(x) = Σ r ⊙ f(x) with a fixed random r has
/// ∂L/∂x = backward(x, dy = r), and its central finite differences need only the double-precision reference forward.
/// </summary>
public static class ProjectedFiniteDifferences
{
    public static double[] Gradient(Func<double[], double[]> forward, double[] x, double[] r, double h = 1e-5) =>
        FiniteDifferences.Gradient(p =>
        {
            var y = forward(p);
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += r[i] * y[i];
            return sum;
        }, x, h);
}

/// <summary>Small conversions and inputs shared by the op tests.</summary>
public static class OpData
{
    public static double[] D(float[] a) => FiniteDifferences.ToDouble(a);

    public static float[] F(double[] a) => a.Select(v => (float)v).ToArray();

    public static float[] Add(float[] a, double[] b) => a.Select((v, i) => (float)(v + b[i])).ToArray();

    public static float[] NaNs(int n) => Enumerable.Repeat(float.NaN, n).ToArray();

    /// <summary>Uniform values in ±[gap, 1]: no value within <paramref name="gap"/> of 0 (the ReLU kink).</summary>
    public static float[] AwayFromZero(int seed, int n, float gap = 0.05f) =>
        TestData.Uniform(seed, n).Select(v => v >= 0 ? gap + (1 - gap) * v : -gap + (1 - gap) * v).ToArray();

    /// <summary>n distinct values spaced <paramref name="step"/> apart, shuffled: no ties, no near-ties.</summary>
    public static float[] Distinct(int seed, int n, float step = 0.01f)
    {
        var rng = new Random(seed);
        var v = Enumerable.Range(0, n).Select(i => (i - n / 2) * step).ToArray();
        rng.Shuffle(v);
        return v;
    }
}
