namespace IlgpuStyle.Tests;

/// <summary>Reproducible random inputs for tests.</summary>
public static class TestData
{
    public static float[] Uniform(int seed, int n, float lo = -1f, float hi = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return a;
    }
}
