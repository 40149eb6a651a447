namespace IlgpuStyle.Autodiff.Optimizers;

/// <summary>Why a minimization stopped.</summary>
public enum StopReason
{
    MaxIterations,
    MaxEvaluations,
    /// <summary>‖∇f‖₁ fell to the gradient tolerance.</summary>
    GradientBelowTolerance,
    /// <summary>The last step ‖t·d‖₁ fell to the change tolerance.</summary>
    StepBelowTolerance,
    /// <summary>|f − f_previous| fell below the change tolerance.</summary>
    LossChangeBelowTolerance,
    /// <summary>The search direction is not a descent direction (∇f·d > −tolerance).</summary>
    NoDescentDirection,
    /// <summary>f became NaN or infinite; x is not usable.</summary>
    NonFiniteLoss,
}

/// <param name="Iterations">Iterations completed (steps taken).</param>
/// <param name="Evaluations">Calls of the objective.</param>
/// <param name="Loss">f at the returned x.</param>
public readonly record struct MinimizeResult(int Iterations, int Evaluations, float Loss, StopReason Reason);
