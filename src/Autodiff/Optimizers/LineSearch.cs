namespace IlgpuStyle.Autodiff.Optimizers;

/// <summary>How <see cref="Lbfgs"/> chooses the step length along its search direction.</summary>
public enum LineSearch
{
    /// <summary>
    /// Fixed step: t = learning rate (the first iteration: min(1, 1/‖g‖₁)·learning rate), one evaluation per
    /// iteration, no guard against an increase of f. Torch optim.lbfgs as used by jcjohnson/neural-style.
    /// </summary>
    None,

    /// <summary>
    /// Bracketing + zoom with cubic interpolation until the strong Wolfe conditions hold (c₁ = 10⁻⁴, c₂ = 0.9,
    /// at most 25 evaluations per iteration); a port of PyTorch's <c>_strong_wolfe</c>.
    /// </summary>
    StrongWolfe,
}
