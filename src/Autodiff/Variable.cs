using IlgpuStyle.Kernels;

namespace IlgpuStyle.Autodiff;

/// <summary>
/// A node of the tape: a device tensor, and (when it requires a gradient) the gradient accumulated
/// into it by <see cref="Tape.Backward"/>.
/// </summary>
public sealed class Variable
{
    internal Variable(Tensor value, bool requiresGrad, bool isLoss)
    {
        Value = value;
        RequiresGrad = requiresGrad;
        IsLoss = isLoss;
    }

    public Tensor Value { get; }
    public Shape4 Shape => Value.Shape;

    /// <summary>True for the image being optimised and everything computed from it.</summary>
    public bool RequiresGrad { get; }

    /// <summary>
    /// A scalar loss term. Loss terms may only be summed (<see cref="Tape.Total"/>); their backward
    /// assumes an upstream gradient of exactly 1, which is what d(Σ Lᵢ)/dLᵢ is.
    /// </summary>
    public bool IsLoss { get; }

    /// <summary>∂L/∂this, valid after <see cref="Tape.Backward"/> when <see cref="RequiresGrad"/>.</summary>
    public Tensor? Grad { get; internal set; }

    /// <summary>Whether a gradient contribution has been written to <see cref="Grad"/> in this backward pass.</summary>
    internal bool GradWritten { get; set; }

    /// <summary>For loss terms: whether the backward pass reaches this loss (it is part of the total).</summary>
    internal bool Seeded { get; set; }
}
