using IlgpuStyle.Kernels;

namespace IlgpuStyle.Autodiff.Optimizers;

/// <summary>
/// The function being minimized: evaluates f(x), writes ∇f(x) into <paramref name="gradient"/> (overwriting
/// it, same shape as x) and returns f(x). Reading the one scalar f back to the host is the only host round
/// trip an evaluation is expected to make. Must not modify <paramref name="x"/>.
/// </summary>
public delegate float Objective(Tensor x, Tensor gradient);
