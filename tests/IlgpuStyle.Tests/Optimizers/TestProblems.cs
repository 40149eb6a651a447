using IlgpuStyle.Autodiff.Optimizers;
using IlgpuStyle.Kernels;

namespace IlgpuStyle.Tests.Optimizers;

/// <summary>Test objectives computed on the host in double: f and ∇f from x.ToHost(), gradient copied back.</summary>
public static class TestProblems
{
    /// <summary>Chained Rosenbrock: f = Σᵢ₌₀ⁿ⁻² 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)², minimum 0 at (1, …, 1).</summary>
    public static (double F, double[] G) Rosenbrock(double[] x)
    {
        double f = 0;
        var g = new double[x.Length];
        for (int i = 0; i + 1 < x.Length; i++)
        {
            double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
            f += 100 * a * a + b * b;
            g[i] += -400 * x[i] * a - 2 * b;
            g[i + 1] += 200 * a;
        }
        return (f, g);
    }

    /// <summary>
    /// f = ½(x − c)ᵀA(x − c), A = MᵀM/n + λI symmetric positive definite (M uniform in [−1, 1]), ∇f = A(x − c),
    /// exact minimizer c with f = 0 there (so f keeps full float32 relative precision near the minimum).
    /// </summary>
    public sealed class Quadratic
    {
        public Quadratic(int seed, int n, double lambda = 0.1)
        {
            var rng = new Random(seed);
            var m = new double[n, n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) m[i, j] = rng.NextDouble() * 2 - 1;
            A = new double[n, n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int k = 0; k < n; k++) s += m[k, i] * m[k, j];
                    A[i, j] = s / n + (i == j ? lambda : 0);
                }
            Minimizer = Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        }

        public double[,] A { get; }
        public double[] Minimizer { get; }
        public int N => Minimizer.Length;

        public (double F, double[] G) Evaluate(double[] x)
        {
            var e = x.Select((v, i) => v - Minimizer[i]).ToArray();
            var g = new double[N];
            double f = 0;
            for (int i = 0; i < N; i++)
            {
                for (int j = 0; j < N; j++) g[i] += A[i, j] * e[j];
                f += 0.5 * e[i] * g[i];
            }
            return (f, g);
        }
    }

    /// <summary>Wraps a host function as an <see cref="Objective"/>; counts evaluations and records every f.</summary>
    public sealed class HostObjective(Func<double[], (double F, double[] G)> function)
    {
        public int Evaluations { get; private set; }
        public List<double> Values { get; } = new();

        public float Evaluate(Tensor x, Tensor gradient)
        {
            var (f, g) = function(x.ToHost().Select(v => (double)v).ToArray());
            gradient.CopyFromHost(g.Select(v => (float)v).ToArray());
            Evaluations++;
            Values.Add(f);
            return (float)f;
        }
    }
}
