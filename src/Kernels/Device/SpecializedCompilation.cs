// Test: tests/IlgpuStyle.Tests/Kernels/PtxasTests.cs (every GPU kernel's PTX, specialized ones with the values the GPU path
// launches) and tests/IlgpuStyle.Tests/Kernels/RewrittenPtxKernelsTests.cs (a kernel loaded this way computes what ILGPU's loader's does)
using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.IR;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

/// <summary>
/// Compiles a kernel the way ILGPU 1.5.3 does at a launch, but as a step of its own, so that what the backend produced
/// can be read (PtxasTests) or changed (<see cref="RewrittenPtxKernels"/>) before it is loaded. Without
/// <see cref="SpecializedValue{T}"/> parameters the backend compiles the entry point; with them, what ILGPU's
/// specialization cache does at the first launch of a value (SpecializationCache.SpecializeKernel / CreateKernelWrapper):
/// a wrapper IR method calls the kernel (marked inline) with the specialized arguments replaced by IR constants, and
/// is optimized and compiled as the kernel's entry point. The wrapper keeps every parameter, so the compiled kernel's
/// launcher takes the kernel's own arguments (the specialized ones too, ignored).
/// </summary>
public static class SpecializedCompilation
{
    /// <summary>
    /// <paramref name="method"/> compiled by <paramref name="backend"/>, its specialized parameters (in order) fixed to
    /// <paramref name="specialized"/> (<see cref="SpecializedValue{T}"/> objects; none for a kernel without such parameters).
    /// </summary>
    public static CompiledKernel Compile(Backend backend, MethodInfo method, object[] specialized) =>
        Compile(backend, method, specialized, LaunchBoundsAttribute.Of(method));

    /// <summary><see cref="Compile(Backend, MethodInfo, object[])"/> with <paramref name="hints"/> (.maxntid, .minnctapersm) instead of the method's <see cref="LaunchBoundsAttribute"/>.</summary>
    public static CompiledKernel Compile(Backend backend, MethodInfo method, object[] specialized, KernelSpecialization hints)
    {
        var entry = EntryOf(method);
        var managed = method.GetParameters();
        int expected = managed.Count(p => IsSpecialized(p.ParameterType));
        if (expected != specialized.Length)
            throw new ArgumentException($"{method.Name} has {expected} specialized parameters, {specialized.Length} values given", nameof(specialized));
        if (specialized.Length == 0)
            return RaiseTarget(backend, backend.Compile(entry, hints));

        using var irContext = backend.PreCompileKernelMethod(entry).ExtractToContext(out var kernel);
        var wrapper = irContext.Declare(new MethodDeclaration(MethodHandle.Create("LauncherWrapper"), irContext.VoidType), out _);
        kernel.AddFlags(MethodFlags.Inline);
        int offset = entry.KernelIndexParameterOffset;
        using (var builder = wrapper.CreateBuilder())
        {
            var location = wrapper.Location;
            var block = builder.EntryBlockBuilder;
            var call = block.CreateCall(location, kernel);
            int next = 0;
            for (int i = 0; i < kernel.NumParameters; i++)
            {
                var parameter = kernel.Parameters[i];
                // Every parameter is kept (ILGPU's argument mappers expect the kernel's signature).
                var copy = builder.AddParameter(parameter.Type, parameter.Name);
                int managedIndex = i - offset;
                if (managedIndex >= 0 && managedIndex < managed.Length && IsSpecialized(managed[managedIndex].ParameterType))
                {
                    // The IR constant: the SpecializedValue<T> itself or its T, whichever the kernel's IR parameter is.
                    var wrapped = specialized[next++];
                    if (wrapped.GetType() != managed[managedIndex].ParameterType)
                        throw new ArgumentException($"{method.Name}: parameter {managed[managedIndex].Name} is a {managed[managedIndex].ParameterType.Name}, the value a {wrapped.GetType().Name}", nameof(specialized));
                    var inner = wrapped.GetType().GetProperty("Value")!.GetValue(wrapped)!;
                    var value = block.CreateObjectValue(location, inner);
                    if (value.Type != parameter.Type) value = block.CreateObjectValue(location, wrapped);
                    if (value.Type != parameter.Type)
                        throw new InvalidOperationException($"{method.Name}: the IR type of {parameter.Name} is {parameter.Type}, its value's {value.Type}");
                    call.Add(value);
                }
                else call.Add(copy);
            }
            call.Seal();
            block.CreateReturn(location);
            builder.Complete();
        }
        irContext.Optimize();
        return RaiseTarget(backend, backend.Compile(wrapper, entry, hints));
    }

    /// <summary>
    /// PTX that uses sm_90's instructions (cvt.rn.tf32.f32: Tf32.Round with nearest-even) with its <c>.target</c> raised to
    /// the backend's architecture: ILGPU 1.5.3 writes <c>.target sm_80</c> for SM_90 too, and ptxas refuses those
    /// instructions under it ("requires .target sm_90 or higher"). Other PTX is left as ILGPU wrote it.
    /// </summary>
    private static CompiledKernel RaiseTarget(Backend backend, CompiledKernel compiled)
    {
        if (compiled is not PTXCompiledKernel ptx || backend is not PTXBackend { Architecture: { Major: >= 9 } arch }
            || !ptx.PTXAssembly.Contains(Sm90Instruction, StringComparison.Ordinal))
            return compiled;
        var raised = TargetLine.Replace(ptx.PTXAssembly, $".target sm_{arch.Major}{arch.Minor}", 1);
        RewrittenPtxKernels.ReplacePtx(ptx, raised);
        return ptx;
    }

    /// <summary>The sm_90 instruction the library's kernels may hold (Tf32.Round(x, nearestEven)).</summary>
    private const string Sm90Instruction = "cvt.rn.tf32.f32";

    private static readonly System.Text.RegularExpressions.Regex TargetLine =
        new(@"^\.target\s+sm_\d+", System.Text.RegularExpressions.RegexOptions.Multiline);

    /// <summary>ILGPU's description of <paramref name="method"/> as a kernel: implicitly grouped when its first parameter is an Index1D/2D/3D.</summary>
    public static EntryPointDescription EntryOf(MethodInfo method) =>
        IsImplicitlyGrouped(method)
            ? EntryPointDescription.FromImplicitlyGroupedKernel(method)
            : EntryPointDescription.FromExplicitlyGroupedKernel(method);

    /// <summary>Whether <paramref name="method"/>'s first parameter is an Index1D, Index2D or Index3D (an implicitly grouped kernel).</summary>
    public static bool IsImplicitlyGrouped(MethodInfo method) =>
        method.GetParameters().FirstOrDefault()?.ParameterType is { } first &&
        (first == typeof(Index1D) || first == typeof(Index2D) || first == typeof(Index3D));

    /// <summary>Whether <paramref name="t"/> is a <see cref="SpecializedValue{T}"/>.</summary>
    public static bool IsSpecialized(Type t) => t.IsGenericType && t.GetGenericTypeDefinition() == typeof(SpecializedValue<>);
}
