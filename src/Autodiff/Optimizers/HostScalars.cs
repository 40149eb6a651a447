using IlgpuStyle.Kernels;

namespace IlgpuStyle.Autodiff.Optimizers;

/// <summary>
/// The scalars the optimizers read back to the host (dot products and norms), computed with the deterministic
/// device reductions. Owns a 1-element result tensor and a work tensor of the optimized shape (for |x|).
/// </summary>
internal sealed class HostScalars(Tensor result, Tensor work) : IDisposable
{

    /// <summary>a·b.</summary>
    public double Dot(Tensor a, Tensor b) => Reduction.DotToHost(a, b, result);

    /// <summary>‖x‖₁ = Σ|xᵢ|.</summary>
    public double L1(Tensor x)
    {
        Elementwise.Abs(x, work);
        Reduction.Sum(work, result);
        return result.ToScalar();
    }

    public void Dispose()
    {
        result.Dispose();
        work.Dispose();
    }
}
