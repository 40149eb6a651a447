using IlgpuStyle.Kernels;

namespace IlgpuStyle.Autodiff.Optimizers;

/// <summary>An optimizer that runs a whole minimization on the device.</summary>
public interface IMinimizer : IDisposable
{
    /// <summary>
    /// Minimizes <paramref name="f"/> starting from <paramref name="x"/>, updating x in place, for at most
    /// <paramref name="maxIterations"/> iterations. Each call starts afresh (no state from earlier calls).
    /// <paramref name="onIteration"/>(k, loss) is called after iteration k (1-based) with f at the current x,
    /// which the callback may read (e.g. to save an intermediate image) but must not modify.
    /// </summary>
    MinimizeResult Minimize(Tensor x, Objective f, int maxIterations, Action<int, float>? onIteration = null);
}
