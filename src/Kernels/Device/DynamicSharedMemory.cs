// Test: tests/IlgpuStyle.Tests/Kernels/TensorCores/Conv2dTensorCoreTests.cs — the blockings with dynamic shared memory on
// cuda (the driver call; skipped without a GPU), their kernel and launches on the CPU simulator and the PTX interpreter
using System.Runtime.InteropServices;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuStyle.Kernels;

/// <summary>
/// Lets a CUDA kernel have more than 48 KiB of dynamic shared memory per group. The driver refuses such a launch unless
/// the kernel's CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES was raised first (cuFuncSetAttribute; CUDA Driver API,
/// "Execution Control"), a call ILGPU 1.5.3 does not make or expose: this class makes it on the driver ILGPU loaded
/// (libcuda.so, nvcuda.dll), with the kernel's CUfunction (<see cref="CudaKernel.FunctionPtr"/>). Other accelerators
/// take any dynamic size a launch asks for (the CPU simulator allocates it), so there it does nothing.
/// </summary>
public static class DynamicSharedMemory
{
    /// <summary>Bytes of shared memory a CUDA group gets without opting in.</summary>
    public const int DefaultLimitBytes = 48 * 1024;

    // CUfunction_attribute CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES (cuda.h).
    private const int MaxDynamicSharedSizeBytes = 8;

    private delegate int FuncSetAttribute(IntPtr function, int attribute, int value);

    private static readonly Lazy<FuncSetAttribute> SetAttribute = new(() =>
    {
        string[] names = OperatingSystem.IsWindows() ? ["nvcuda.dll"] : ["libcuda.so", "libcuda.so.1"];
        foreach (var name in names)
            if (NativeLibrary.TryLoad(name, out var library) && NativeLibrary.TryGetExport(library, "cuFuncSetAttribute", out var address))
                return Marshal.GetDelegateForFunctionPointer<FuncSetAttribute>(address);
        throw new InvalidOperationException($"the CUDA driver ({string.Join(" or ", names)}) has no cuFuncSetAttribute");
    });

    /// <summary>
    /// Raises <paramref name="kernel"/>'s dynamic shared memory limit to <paramref name="bytes"/> on CUDA when that is
    /// past the default 48 KiB; nothing otherwise. Throws <see cref="InvalidOperationException"/> with the driver's error
    /// code when the driver refuses (a size past the device's opt-in limit).
    /// </summary>
    public static void Allow(Kernel kernel, int bytes)
    {
        if (bytes <= DefaultLimitBytes || kernel is not CudaKernel cuda) return;
        int status = SetAttribute.Value(cuda.FunctionPtr, MaxDynamicSharedSizeBytes, bytes);
        if (status != 0)
            throw new InvalidOperationException($"cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, {bytes}) failed with CUDA error {status}");
    }
}
