// Test: through the kernels that use it (tests/IlgpuStyle.Tests/Kernels/TensorCores/Conv2dTensorCoreTests.cs: the
// tensor-core convolution's weight stages; on CUDA the 128-bit load, elsewhere four loads of the same values) and
// tests/IlgpuStyle.Tests/Kernels/PtxasTests.cs (the PTX assembles)
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuStyle.Kernels.TensorCores;

/// <summary>
/// Reads from global memory wider than ILGPU does: ILGPU 1.5.3 loads a view's elements one at a time (it cannot know a
/// global view's alignment), so a kernel that fills shared memory spends an index computation, a load and a store per
/// float. On CUDA the caller guarantees that the view's device address (AsyncCopy.DeviceAddress) is a multiple of 16 —
/// every Tensor is a whole allocation, which CUDA aligns to 256 bytes, and the host checks it — so ILGPU is told so and
/// reads four floats with one <c>ld.global.v4.f32</c>. No run-time alignment flag: ptxas kept the four-load fallback of
/// one, predicated, and issued its instructions beside every 128-bit load.
/// </summary>
internal static class GlobalLoad
{
    /// <summary>
    /// src[<paramref name="index"/> … + 3] (<paramref name="index"/> a multiple of 4): on CUDA one 128-bit load (src's
    /// device address a multiple of 16: the caller's guarantee), elsewhere (the CPU simulator) four loads of the same values.
    /// </summary>
    public static SharedGemm.Float4 Float4(ArrayView1D<float, Stride1D.Dense> src, int index)
    {
        // AsAligned16 tells ILGPU the view starts on a 16-byte boundary, so its PTX backend loads a Float4 as one
        // ld.global.v4.f32.
        if (CudaAsm.IsSupported) return src.AsAligned16().BaseView.Cast<SharedGemm.Float4>()[index >> 2];
        return new SharedGemm.Float4 { X = src[index], Y = src[index + 1], Z = src[index + 2], W = src[index + 3] };
    }
}
