// Test: tests/IlgpuStyle.Tests/Kernels/PtxasTests.cs (the kernels that carry it are assembled with its bounds, as loaded)
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuStyle.Kernels;

/// <summary>
/// CUDA's __launch_bounds__ for an ILGPU kernel: at most <paramref name="MaxThreads"/> work-items per group and at least
/// <paramref name="MinGroupsPerMultiprocessor"/> groups resident per SM. ILGPU writes them into the PTX as .maxntid and
/// .minnctapersm (its <see cref="KernelSpecialization"/>), and ptxas then keeps the registers per thread at or under
/// 65536 / (threads · groups) — e.g. 128 for 256 × 2 — where it would otherwise take more and leave one group per SM.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class LaunchBoundsAttribute(int MaxThreads, int MinGroupsPerMultiprocessor) : Attribute
{
    public int MaxThreads { get; } = MaxThreads;
    public int MinGroupsPerMultiprocessor { get; } = MinGroupsPerMultiprocessor;

    /// <summary>The bounds of <paramref name="kernel"/> as ILGPU's specialization (empty without the attribute).</summary>
    public static KernelSpecialization Of(MethodInfo kernel) =>
        kernel.GetCustomAttribute<LaunchBoundsAttribute>() is { } b ? new KernelSpecialization(b.MaxThreads, b.MinGroupsPerMultiprocessor) : KernelSpecialization.Empty;

    /// <summary>
    /// What <paramref name="kernel"/> is loaded with on <paramref name="accelerator"/>: its bounds on CUDA devices, nothing
    /// elsewhere (OpenCL and the CPU simulator have no such hints; ILGPU would check the thread bound against their groups).
    /// </summary>
    public static KernelSpecialization For(Accelerator accelerator, MethodInfo kernel) =>
        accelerator is CudaAccelerator ? Of(kernel) : KernelSpecialization.Empty;
}
