// Test: tests/IlgpuStyle.Tests/Kernels/RewrittenPtxKernelsTests.cs (loading and launching through this path; the PTX text
// swap) and, on CUDA, the cp.async bit-equality tests of the tensor-core kernels (tests/IlgpuStyle.Tests/Kernels/TensorCores)
using System.Reflection;
using ILGPU.Backends;
using ILGPU.Backends.PTX;
using ILGPU.Backends.EntryPoints;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuStyle.Kernels;

/// <summary>
/// Loads a kernel through ILGPU's public steps — <see cref="SpecializedCompilation.Compile"/> with the accelerator's
/// backend, <see cref="Accelerator.LoadKernel(CompiledKernel)"/>, <see cref="Kernel.CreateLauncherDelegate{TDelegate}"/> —
/// with one step between compiling and loading: PTX goes through <see cref="PtxDepots.Rewrite"/>, so the driver
/// assembles the kernel with ILGPU's inline-asm operands in registers (what ptxas would do itself but for cp.async).
/// Other accelerators compile the kernel unspecialized and load it unchanged through the same two calls (the tests run
/// that on the CPU simulator: the launcher, its arguments and the loading step, everything but the PTX).
/// The launcher is ILGPU's explicitly grouped one: <c>Action&lt;AcceleratorStream, KernelConfig, …the kernel's parameters&gt;</c>,
/// one per specialized value (ILGPU's own loader dispatches on the value inside one launcher).
/// </summary>
public static class RewrittenPtxKernels
{
    // ILGPU 1.5.3 builds a PTXCompiledKernel with an internal constructor and exposes its text read-only; the loader
    // reads it from this field. Checked when first used, so a different ILGPU fails with this message, not a null.
    private static readonly Lazy<FieldInfo> PtxText = new(() =>
        typeof(PTXCompiledKernel).GetField("<PTXAssembly>k__BackingField", BindingFlags.Instance | BindingFlags.NonPublic)
        ?? throw new InvalidOperationException(
            $"ILGPU {typeof(PTXCompiledKernel).Assembly.GetName().Version}: PTXCompiledKernel has no PTXAssembly backing field (written for ILGPU 1.5.3)"));

    /// <summary>
    /// <paramref name="method"/> (an explicitly grouped kernel) with its specialized parameters fixed to
    /// <paramref name="specialized"/>, compiled, its PTX rewritten on CUDA, loaded; <paramref name="depots"/> is how many
    /// depots the rewrite moved into registers (0 off CUDA). A kernel that launches with more than 48 KiB of dynamic shared
    /// memory passes its size, <paramref name="dynamicSharedBytes"/> (<see cref="DynamicSharedMemory.Allow"/>).
    /// </summary>
    public static TDelegate Load<TDelegate>(Accelerator accelerator, MethodInfo method, object[] specialized, out int depots,
        int dynamicSharedBytes = 0)
        where TDelegate : Delegate
    {
        depots = 0;
        CompiledKernel compiled;
        if (accelerator is CudaAccelerator cuda)
        {
            var ptx = (PTXCompiledKernel)SpecializedCompilation.Compile(cuda.Backend, method, specialized);
            depots = RewriteDepots(ptx);
            compiled = ptx;
        }
        else
        {
            // ILGPU exposes other backends only through this call, which compiles without fixing specialized values:
            // the kernel reads them from its arguments (the CPU simulator runs the managed method either way).
            compiled = accelerator.CompileKernel(EntryPointDescription.FromExplicitlyGroupedKernel(method));
        }
        var kernel = accelerator.LoadKernel(compiled);
        DynamicSharedMemory.Allow(kernel, dynamicSharedBytes);
        return kernel.CreateLauncherDelegate<TDelegate>();
    }

    /// <summary>
    /// <paramref name="kernel"/>'s PTX through <see cref="PtxDepots.Rewrite"/>, in place; returns how many depots it moved
    /// into registers. Also what <see cref="PtxKernelCache"/> stores for the kernels loaded this way.
    /// </summary>
    public static int RewriteDepots(PTXCompiledKernel kernel)
    {
        var (text, depots) = PtxDepots.Rewrite(kernel.PTXAssembly);
        ReplacePtx(kernel, text);
        return depots;
    }

    /// <summary>Makes <paramref name="kernel"/> carry <paramref name="ptx"/> instead of the text ILGPU generated.</summary>
    public static void ReplacePtx(PTXCompiledKernel kernel, string ptx) => PtxText.Value.SetValue(kernel, ptx);
}
