namespace IlgpuStyle.Stylize.Imaging;

/// <summary>
/// Eigen-decomposition of a symmetric 3×3 matrix in double by cyclic Jacobi rotations: A = V·diag(λ)·Vᵀ with V
/// orthonormal (column k is the eigenvector of λ[k]). Each rotation P in the plane (p, q) — P_pp = P_qq = c,
/// P_pq = s, P_qp = −s — zeroes A_pq in A ← PᵀAP when t = s/c solves t² + 2θt − 1 = 0 with
/// θ = (A_qq − A_pp) / (2 A_pq) (the smaller root, t = sgn θ / (|θ| + √(θ² + 1))); V ← VP accumulates them.
/// For 3×3 a handful of sweeps reaches double precision. Used for matrix square roots (<see cref="Function"/>).
/// </summary>
public static class SymmetricEigen3
{
    public static (double[] Values, double[,] Vectors) Decompose(double[,] matrix)
    {
        if (matrix.GetLength(0) != 3 || matrix.GetLength(1) != 3)
            throw new ArgumentException($"a 3×3 matrix is required, not {matrix.GetLength(0)}×{matrix.GetLength(1)}.", nameof(matrix));
        var a = new double[3, 3];
        var v = new double[3, 3];
        for (int i = 0; i < 3; i++)
        {
            v[i, i] = 1;
            for (int j = 0; j < 3; j++) a[i, j] = 0.5 * (matrix[i, j] + matrix[j, i]); // symmetric part
        }
        for (int sweep = 0; sweep < 64; sweep++)
        {
            double off = a[0, 1] * a[0, 1] + a[0, 2] * a[0, 2] + a[1, 2] * a[1, 2];
            double diag = a[0, 0] * a[0, 0] + a[1, 1] * a[1, 1] + a[2, 2] * a[2, 2];
            if (off == 0 || off <= 1e-32 * diag) break;
            foreach (var (p, q) in new[] { (0, 1), (0, 2), (1, 2) })
            {
                if (a[p, q] == 0) continue;
                double theta = (a[q, q] - a[p, p]) / (2 * a[p, q]);
                double t = Math.Abs(theta) > 1e150 ? 0.5 / theta // θ² would overflow; t ≈ 1/(2θ)
                    : (theta >= 0 ? 1 : -1) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < 3; k++) // columns p, q: A ← A·P
                {
                    double akp = a[k, p], akq = a[k, q];
                    a[k, p] = c * akp - s * akq;
                    a[k, q] = s * akp + c * akq;
                }
                for (int k = 0; k < 3; k++) // rows p, q: A ← Pᵀ·A
                {
                    double apk = a[p, k], aqk = a[q, k];
                    a[p, k] = c * apk - s * aqk;
                    a[q, k] = s * apk + c * aqk;
                }
                a[p, q] = a[q, p] = 0;
                for (int k = 0; k < 3; k++) // V ← V·P
                {
                    double vkp = v[k, p], vkq = v[k, q];
                    v[k, p] = c * vkp - s * vkq;
                    v[k, q] = s * vkp + c * vkq;
                }
            }
        }
        return ([a[0, 0], a[1, 1], a[2, 2]], v);
    }

    /// <summary>f(A) = V·diag(f(λ))·Vᵀ of a symmetric 3×3 matrix, e.g. f = √ for the symmetric square root.</summary>
    public static double[,] Function(double[,] matrix, Func<double, double> f)
    {
        var (values, v) = Decompose(matrix);
        var fl = values.Select(f).ToArray();
        var r = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 3; k++) r[i, j] += v[i, k] * fl[k] * v[j, k];
        return r;
    }
}
