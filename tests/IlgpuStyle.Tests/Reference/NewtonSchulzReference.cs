using static IlgpuStyle.Tests.Reference.MatMulReference;

namespace IlgpuStyle.Tests.Reference;

/// <summary>
/// The coupled Newton–Schulz square root in double precision, step by step as written in its definition (no use of
/// the iterates commuting), its gradient by reverse-mode differentiation through every step, and the square root
/// from a symmetric eigendecomposition (Householder tridiagonalization and implicit QL, after EISPACK's tred2/tql2).
/// </summary>
public static class NewtonSchulzReference
{
    /// <summary>
    /// The iterates of s = ‖A‖_F, Y₀ = A/s, Z₀ = I, T_k = (3I − Z_k Y_k)/2, Y_{k+1} = Y_k T_k, Z_{k+1} = T_k Z_k.
    /// </summary>
    private static (double S, List<double[]> Y, List<double[]> Z, List<double[]> T) Iterates(double[] a, int c, int iterations)
    {
        double s = Math.Sqrt(a.Sum(v => v * v));
        var y = new List<double[]> { a.Select(v => v / s).ToArray() };
        var z = new List<double[]> { Identity(c) };
        var t = new List<double[]>();
        for (int k = 0; k < iterations; k++)
        {
            var tk = Combine(1, Identity(c, 1.5), -0.5, Multiply(z[k], y[k], c));
            t.Add(tk);
            y.Add(Multiply(y[k], tk, c));
            z.Add(Multiply(tk, z[k], c));
        }
        return (s, y, z, t);
    }

    /// <summary>√s · Y_K.</summary>
    public static double[] Sqrt(double[] a, int c, int iterations)
    {
        var (s, y, _, _) = Iterates(a, c, iterations);
        return y[^1].Select(v => v * Math.Sqrt(s)).ToArray();
    }

    /// <summary>tr(√s · Y_K).</summary>
    public static double TraceSqrt(double[] a, int c, int iterations) => Trace(Sqrt(a, c, iterations), c);

    /// <summary>
    /// ∂ tr(√s·Y_K) / ∂A by the chain rule backwards through the steps: with ḡ the adjoints,
    /// Ȳ_K = √s·I, Z̄_K = 0; for each step T̄ = Y_kᵀ Ȳ_{k+1} + Z̄_{k+1} Z_kᵀ, P̄ = −½T̄ (P = Z_k Y_k),
    /// Ȳ_k = Ȳ_{k+1} T_kᵀ + Z_kᵀ P̄, Z̄_k = T_kᵀ Z̄_{k+1} + P̄ Y_kᵀ; then Y₀ = A/s and s = ‖A‖_F:
    /// s̄ = tr(Y_K)/(2√s) − ⟨Ȳ₀, A⟩/s², Ā = Ȳ₀/s + s̄·A/s.
    /// </summary>
    public static double[] TraceSqrtGradient(double[] a, int c, int iterations)
    {
        var (s, y, z, t) = Iterates(a, c, iterations);
        var gy = Identity(c, Math.Sqrt(s));
        var gz = new double[c * c];
        for (int k = iterations - 1; k >= 0; k--)
        {
            var gt = Combine(1, Multiply(Transpose(y[k], c), gy, c), 1, Multiply(gz, Transpose(z[k], c), c));
            var gp = gt.Select(v => -0.5 * v).ToArray();
            var gyPrev = Combine(1, Multiply(gy, Transpose(t[k], c), c), 1, Multiply(Transpose(z[k], c), gp, c));
            var gzPrev = Combine(1, Multiply(Transpose(t[k], c), gz, c), 1, Multiply(gp, Transpose(y[k], c), c));
            gy = gyPrev;
            gz = gzPrev;
        }
        double gs = Trace(y[^1], c) / (2 * Math.Sqrt(s)) - gy.Select((v, i) => v * a[i]).Sum() / (s * s);
        return gy.Select((v, i) => v / s + gs * a[i] / s).ToArray();
    }

    /// <summary>The symmetric square root V·diag(√max(λ, 0))·Vᵀ of a symmetric matrix, from its eigendecomposition.</summary>
    public static double[] SqrtByEigen(double[] a, int c)
    {
        var (values, vectors) = SymmetricEigen(a, c);
        var root = new double[c * c];
        for (int q = 0; q < c; q++)
        {
            double r = Math.Sqrt(Math.Max(values[q], 0));
            for (int i = 0; i < c; i++)
            for (int j = 0; j < c; j++)
                root[i * c + j] += r * vectors[i * c + q] * vectors[j * c + q];
        }
        return root;
    }

    /// <summary>Σ √max(λ_i, 0): tr(sqrt(A)) of a symmetric matrix, from its eigenvalues.</summary>
    public static double TraceSqrtByEigen(double[] a, int c) => SymmetricEigen(a, c).Values.Sum(v => Math.Sqrt(Math.Max(v, 0)));

    /// <summary>
    /// Eigenvalues and eigenvectors (columns of the row-major c×c result) of a symmetric matrix: Householder reduction
    /// to tridiagonal form, then the QL algorithm with implicit shifts (EISPACK tred2 and tql2, as in JAMA).
    /// </summary>
    public static (double[] Values, double[] Vectors) SymmetricEigen(double[] a, int n)
    {
        var v = new double[n, n];
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            v[i, j] = 0.5 * (a[i * n + j] + a[j * n + i]);
        var d = new double[n];
        var e = new double[n];
        Tred2(v, d, e, n);
        Tql2(v, d, e, n);
        var vectors = new double[n * n];
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            vectors[i * n + j] = v[i, j];
        return (d, vectors);
    }

    private static void Tred2(double[,] v, double[] d, double[] e, int n)
    {
        for (int j = 0; j < n; j++) d[j] = v[n - 1, j];
        for (int i = n - 1; i > 0; i--)
        {
            double scale = 0, h = 0;
            for (int k = 0; k < i; k++) scale += Math.Abs(d[k]);
            if (scale == 0)
            {
                e[i] = d[i - 1];
                for (int j = 0; j < i; j++)
                {
                    d[j] = v[i - 1, j];
                    v[i, j] = 0;
                    v[j, i] = 0;
                }
            }
            else
            {
                for (int k = 0; k < i; k++)
                {
                    d[k] /= scale;
                    h += d[k] * d[k];
                }
                double f = d[i - 1];
                double g = Math.Sqrt(h);
                if (f > 0) g = -g;
                e[i] = scale * g;
                h -= f * g;
                d[i - 1] = f - g;
                for (int j = 0; j < i; j++) e[j] = 0;
                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    v[j, i] = f;
                    g = e[j] + v[j, j] * f;
                    for (int k = j + 1; k <= i - 1; k++)
                    {
                        g += v[k, j] * d[k];
                        e[k] += v[k, j] * f;
                    }
                    e[j] = g;
                }
                f = 0;
                for (int j = 0; j < i; j++)
                {
                    e[j] /= h;
                    f += e[j] * d[j];
                }
                double hh = f / (h + h);
                for (int j = 0; j < i; j++) e[j] -= hh * d[j];
                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    g = e[j];
                    for (int k = j; k <= i - 1; k++) v[k, j] -= f * e[k] + g * d[k];
                    d[j] = v[i - 1, j];
                    v[i, j] = 0;
                }
            }
            d[i] = h;
        }
        for (int i = 0; i < n - 1; i++)
        {
            v[n - 1, i] = v[i, i];
            v[i, i] = 1;
            double h = d[i + 1];
            if (h != 0)
            {
                for (int k = 0; k <= i; k++) d[k] = v[k, i + 1] / h;
                for (int j = 0; j <= i; j++)
                {
                    double g = 0;
                    for (int k = 0; k <= i; k++) g += v[k, i + 1] * v[k, j];
                    for (int k = 0; k <= i; k++) v[k, j] -= g * d[k];
                }
            }
            for (int k = 0; k <= i; k++) v[k, i + 1] = 0;
        }
        for (int j = 0; j < n; j++)
        {
            d[j] = v[n - 1, j];
            v[n - 1, j] = 0;
        }
        v[n - 1, n - 1] = 1;
        e[0] = 0;
    }

    private static void Tql2(double[,] v, double[] d, double[] e, int n)
    {
        for (int i = 1; i < n; i++) e[i - 1] = e[i];
        e[n - 1] = 0;
        double f = 0, tst1 = 0, eps = Math.Pow(2, -52);
        for (int l = 0; l < n; l++)
        {
            tst1 = Math.Max(tst1, Math.Abs(d[l]) + Math.Abs(e[l]));
            int m = l;
            while (m < n)
            {
                if (Math.Abs(e[m]) <= eps * tst1) break;
                m++;
            }
            if (m > l)
            {
                do
                {
                    double g = d[l];
                    double p = (d[l + 1] - g) / (2 * e[l]);
                    double r = Hypot(p, 1);
                    if (p < 0) r = -r;
                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    double dl1 = d[l + 1];
                    double h = g - d[l];
                    for (int i = l + 2; i < n; i++) d[i] -= h;
                    f += h;
                    p = d[m];
                    double c = 1, c2 = c, c3 = c, el1 = e[l + 1], s = 0, s2 = 0;
                    for (int i = m - 1; i >= l; i--)
                    {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = Hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        for (int k = 0; k < n; k++)
                        {
                            h = v[k, i + 1];
                            v[k, i + 1] = s * v[k, i] + c * h;
                            v[k, i] = c * v[k, i] - s * h;
                        }
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                } while (Math.Abs(e[l]) > eps * tst1);
            }
            d[l] += f;
            e[l] = 0;
        }
    }

    private static double Hypot(double a, double b) => Math.Sqrt(a * a + b * b);
}
