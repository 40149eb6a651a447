namespace IlgpuStyle.Tests.Reference;

/// <summary>
/// Fixed-step L-BFGS in double on the host, a line-by-line transcription of torch optim.lbfgs (Lua) without
/// line search and without stopping tests: the iterates after each iteration, for comparison with the device
/// implementation.
/// </summary>
public static class LbfgsReference
{
    public static List<double[]> Iterates(Func<double[], (double F, double[] G)> f, double[] x0, int iterations,
        int historySize, double learningRate)
    {
        var x = (double[])x0.Clone();
        var (_, g) = f(x);
        var dirs = new List<double[]>(); // y
        var stps = new List<double[]>(); // s
        double hDiag = 1, t = 0;
        double[] d = [], gOld = [];
        var result = new List<double[]>();
        for (int k = 1; k <= iterations; k++)
        {
            if (k == 1) d = g.Select(v => -v).ToArray();
            else
            {
                var y = g.Zip(gOld, (a, b) => a - b).ToArray();
                var s = d.Select(v => v * t).ToArray();
                double ys = Dot(y, s);
                if (ys > 1e-10)
                {
                    if (dirs.Count == historySize) { dirs.RemoveAt(0); stps.RemoveAt(0); }
                    dirs.Add(y);
                    stps.Add(s);
                    hDiag = ys / Dot(y, y);
                }
                int n = dirs.Count;
                var al = new double[n];
                var ro = Enumerable.Range(0, n).Select(i => 1 / Dot(dirs[i], stps[i])).ToArray();
                var q = g.Select(v => -v).ToArray();
                for (int i = n - 1; i >= 0; i--)
                {
                    al[i] = Dot(stps[i], q) * ro[i];
                    for (int j = 0; j < q.Length; j++) q[j] -= al[i] * dirs[i][j];
                }
                d = q.Select(v => v * hDiag).ToArray();
                for (int i = 0; i < n; i++)
                {
                    double be = Dot(dirs[i], d) * ro[i];
                    for (int j = 0; j < d.Length; j++) d[j] += (al[i] - be) * stps[i][j];
                }
            }
            gOld = (double[])g.Clone();
            t = k == 1 ? Math.Min(1, 1 / g.Sum(Math.Abs)) * learningRate : learningRate;
            for (int j = 0; j < x.Length; j++) x[j] += t * d[j];
            (_, g) = f(x);
            result.Add((double[])x.Clone());
        }
        return result;
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
