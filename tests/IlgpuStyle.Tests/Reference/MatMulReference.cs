namespace IlgpuStyle.Tests.Reference;

/// <summary>Plain CPU matrix algebra in double precision on row-major arrays (the references of the matrix kernels).</summary>
public static class MatMulReference
{
    /// <summary>a (m×k) · b (k×n), the triple loop.</summary>
    public static double[] Multiply(double[] a, double[] b, int m, int k, int n)
    {
        var c = new double[m * n];
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0;
            for (int q = 0; q < k; q++) sum += a[i * k + q] * b[q * n + j];
            c[i * n + j] = sum;
        }
        return c;
    }

    /// <summary>The square product a·b of two c×c matrices.</summary>
    public static double[] Multiply(double[] a, double[] b, int c) => Multiply(a, b, c, c, c);

    public static double[] Transpose(double[] a, int c)
    {
        var t = new double[a.Length];
        for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++)
            t[j * c + i] = a[i * c + j];
        return t;
    }

    public static double[] Identity(int c, double value = 1)
    {
        var e = new double[c * c];
        for (int i = 0; i < c; i++) e[i * c + i] = value;
        return e;
    }

    /// <summary>α·a + β·b elementwise.</summary>
    public static double[] Combine(double alpha, double[] a, double beta, double[] b) =>
        a.Select((v, i) => alpha * v + beta * b[i]).ToArray();

    public static double Trace(double[] a, int c)
    {
        double t = 0;
        for (int i = 0; i < c; i++) t += a[i * c + i];
        return t;
    }

    /// <summary>A random symmetric positive definite c×c matrix B Bᵀ/n + shift·I (B: c×n uniform in [−1, 1]).</summary>
    public static double[] RandomSpd(int seed, int c, int n, double shift)
    {
        var b = TestData.Uniform(seed, c * n).Select(v => (double)v).ToArray();
        var a = new double[c * c];
        for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++)
        {
            double sum = 0;
            for (int q = 0; q < n; q++) sum += b[i * n + q] * b[j * n + q];
            a[i * c + j] = sum / n + (i == j ? shift : 0);
        }
        return a;
    }
}
