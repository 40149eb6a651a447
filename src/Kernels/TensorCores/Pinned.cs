// Test: through the kernel that uses it (tests/IlgpuStyle.Tests/Kernels/TensorCores/Conv2dTensorCoreTests.cs); where its value is
// computed shows in ptxas's code (doc/PERFORMANCE.md, "the halo tile").
using ILGPU.Runtime.Cuda;

namespace IlgpuStyle.Kernels.TensorCores;

/// <summary>
/// A value kept where it is computed. ILGPU's code placement moves each pure value next to its uses, so a value computed
/// before a loop and used only inside it is recomputed in every iteration (the tensor-core convolution's per-lane edge
/// masks cost four integer remainders per stage so). An inline-PTX move is a memory value to ILGPU, which it never moves:
/// on CUDA what it copies is computed where <see cref="Value"/> is called, once. Elsewhere (the CPU simulator) the identity.
/// </summary>
internal static class Pinned
{
    public static uint Value(uint x)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("mov.b32 %0, %1;", out uint y, x);
            return y;
        }
        return x;
    }
}
