using IlgpuStyle.Kernels;

namespace IlgpuStyle.Autodiff.Optimizers;

/// <summary>
/// Line search along d for a step t satisfying the strong Wolfe conditions
/// f(x + t·d) ≤ f(x) + c₁·t·∇f(x)·d  and  |∇f(x + t·d)·d| ≤ c₂·|∇f(x)·d|,
/// a port of PyTorch's <c>torch.optim.lbfgs._strong_wolfe</c> (itself from minFunc): bracketing by
/// extrapolation with safeguarded cubic interpolation, then zoom by cubic interpolation within the bracket.
/// <para>
/// Device memory: a copy of the starting x and three gradient buffers, allocated once by the owner. Gradients at bracket
/// ends are kept by reference (a buffer is reused only when no bracket end refers to it), never copied.
/// One difference from PyTorch: the bracket-width test |t₁ − t₀|·‖d‖ &lt; 10⁻⁹ uses ‖d‖₂, not ‖d‖∞, because it is a
/// dot product (‖d‖₂ ≥ ‖d‖∞, so the zoom stops no later than PyTorch's).
/// </para>
/// </summary>
internal sealed class StrongWolfeSearch : IDisposable
{
    private const double C1 = 1e-4;
    private const double C2 = 0.9;
    private const double ToleranceChange = 1e-9;
    private const int MaxEvaluations = 25;

    private readonly Tensor start;
    private readonly Tensor[] pool;
    private readonly HostScalars scalars;

    /// <param name="start">Buffer for the starting x.</param>
    /// <param name="pool">Three gradient buffers (three are always enough: two bracket ends and the new point).</param>
    public StrongWolfeSearch(Tensor start, Tensor[] pool, HostScalars scalars)
    {
        if (pool.Length != 3) throw new ArgumentException("the strong Wolfe search needs three gradient buffers");
        this.start = start;
        this.pool = pool;
        this.scalars = scalars;
    }

    /// <summary>
    /// Searches from x (where f = <paramref name="loss"/>, ∇f = <paramref name="g"/>, ∇f·d = <paramref name="gtd"/> &lt; 0)
    /// with first trial step <paramref name="t"/>. Leaves x at x + step·d and returns f there, the step, the number of
    /// evaluations, and the gradient there (one of this object's buffers, or <paramref name="g"/> itself when the
    /// step is 0; valid until the next search). Returns at once, with x at the trial point, if f is NaN or infinite
    /// there (PyTorch would go on interpolating with NaN).
    /// </summary>
    public (double Loss, double Step, int Evaluations, Tensor Gradient) Search(
        Tensor x, Objective f, double t, Tensor d, double loss, Tensor g, double gtd)
    {
        double dNorm = Math.Sqrt(scalars.Dot(d, d));
        start.CopyFrom(x);

        var (fNew, gNew, gtdNew) = Evaluate(t, null, null);
        int evaluations = 1;
        if (!double.IsFinite(fNew)) return (fNew, t, evaluations, gNew); // x stays at the failing point

        // Bracket an interval containing a point satisfying the strong Wolfe conditions.
        double tPrev = 0, fPrev = loss, gtdPrev = gtd;
        Tensor gPrev = g;
        var bt = new double[2];
        var bf = new double[2];
        var bgtd = new double[2];
        var bg = new Tensor[2];
        bool done = false;
        int iteration = 0;
        while (iteration < MaxEvaluations)
        {
            if (fNew > loss + C1 * t * gtd || (iteration > 1 && fNew >= fPrev))
            {
                SetBracket(tPrev, fPrev, gPrev, gtdPrev, t, fNew, gNew, gtdNew);
                break;
            }
            if (Math.Abs(gtdNew) <= -C2 * gtd)
            {
                SetBracket(t, fNew, gNew, gtdNew, t, fNew, gNew, gtdNew); // one point: done
                done = true;
                break;
            }
            if (gtdNew >= 0)
            {
                SetBracket(tPrev, fPrev, gPrev, gtdPrev, t, fNew, gNew, gtdNew);
                break;
            }
            // Extrapolate: cubic step, kept within [t + 0.01(t − tPrev), 10t].
            double minStep = t + 0.01 * (t - tPrev);
            double maxStep = t * 10;
            double previous = t;
            t = CubicInterpolation.Minimum(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, (minStep, maxStep));
            tPrev = previous;
            fPrev = fNew;
            gPrev = gNew;
            gtdPrev = gtdNew;
            (fNew, gNew, gtdNew) = Evaluate(t, gPrev, null);
            evaluations++;
            iteration++;
            if (!double.IsFinite(fNew)) return (fNew, t, evaluations, gNew);
        }
        if (iteration == MaxEvaluations)
            SetBracket(0, loss, g, gtd, t, fNew, gNew, gtdNew);

        // Zoom: shrink the bracket until a point satisfies the conditions.
        bool insufficientProgress = false;
        int low = bf[0] <= bf[1] ? 0 : 1, high = 1 - low;
        while (!done && iteration < MaxEvaluations)
        {
            if (Math.Abs(bt[1] - bt[0]) * dNorm < ToleranceChange) break;
            t = CubicInterpolation.Minimum(bt[0], bf[0], bgtd[0], bt[1], bf[1], bgtd[1]);

            // Interpolation too close to an end of the bracket: if it was also last time, or t lies on/outside
            // the bracket, move t to 0.1·width from the nearest end.
            double lo = Math.Min(bt[0], bt[1]), hi = Math.Max(bt[0], bt[1]);
            double eps = 0.1 * (hi - lo);
            if (Math.Min(hi - t, t - lo) < eps)
            {
                if (insufficientProgress || t >= hi || t <= lo)
                {
                    t = Math.Abs(t - hi) < Math.Abs(t - lo) ? hi - eps : lo + eps;
                    insufficientProgress = false;
                }
                else insufficientProgress = true;
            }
            else insufficientProgress = false;

            (fNew, gNew, gtdNew) = Evaluate(t, bg[0], bg[1]);
            evaluations++;
            iteration++;
            if (!double.IsFinite(fNew)) return (fNew, t, evaluations, gNew);

            if (fNew > loss + C1 * t * gtd || fNew >= bf[low])
            {
                // Armijo fails or not below the low end: t becomes the high end.
                Set(high, t, fNew, gNew, gtdNew);
                low = bf[0] <= bf[1] ? 0 : 1;
                high = 1 - low;
            }
            else
            {
                if (Math.Abs(gtdNew) <= -C2 * gtd) done = true;
                else if (gtdNew * (bt[high] - bt[low]) >= 0) Set(high, bt[low], bf[low], bg[low], bgtd[low]);
                Set(low, t, fNew, gNew, gtdNew);
            }
        }

        x.CopyFrom(start);
        Elementwise.Axpy((float)bt[low], d, x);
        return (bf[low], bt[low], evaluations, bg[low]);

        void Set(int i, double ti, double fi, Tensor gi, double gtdi) =>
            (bt[i], bf[i], bg[i], bgtd[i]) = (ti, fi, gi, gtdi);

        void SetBracket(double t0, double f0, Tensor g0, double gtd0, double t1, double f1, Tensor g1, double gtd1)
        {
            Set(0, t0, f0, g0, gtd0);
            Set(1, t1, f1, g1, gtd1);
        }

        // f, ∇f and ∇f·d at start + step·d, into a buffer that neither live gradient refers to.
        (double F, Tensor G, double Gtd) Evaluate(double step, Tensor? keepA, Tensor? keepB)
        {
            var buffer = pool.First(p => !ReferenceEquals(p, keepA) && !ReferenceEquals(p, keepB));
            x.CopyFrom(start);
            Elementwise.Axpy((float)step, d, x);
            double value = f(x, buffer);
            return (value, buffer, scalars.Dot(buffer, d));
        }
    }

    public void Dispose()
    {
        start.Dispose();
        foreach (var p in pool) p.Dispose();
    }
}
