// Test: tests/IlgpuStyle.Tests/Ptx/PtxInterpreterTests.cs and every test case on the "ptx" device (Devices.cs)
using System.Collections.Concurrent;
using System.Reflection;
using ILGPU;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuStyle.Kernels;

namespace IlgpuStyle.Tests.Ptx;

/// <summary>
/// The "ptx" test device's kernels: each compiled as the CUDA path compiles it on an sm_90 device
/// (<see cref="SpecializedCompilation.Compile(ILGPU.Backends.Backend, MethodInfo, object[])"/> with the kernel's launch bounds,
/// the specialized values, <see cref="PtxDepots.Rewrite"/> for the kernels loaded through <see cref="RewrittenPtxKernels"/>),
/// parsed once, and run by <see cref="PtxMachine"/> over the CPU accelerator's buffers at each launch — synchronously,
/// after the stream's earlier work. Implicitly grouped kernels run in blocks of <see cref="ImplicitGroup"/> threads.
/// </summary>
public static class PtxKernels
{
    /// <summary>Block size of implicitly grouped launches (ILGPU's CUDA launcher picks one by occupancy; any size is correct).</summary>
    public const int ImplicitGroup = 128;

    /// <summary>PTX ISA of the generated code (PtxasTests' choice: the newest ptxas 12.4 reads).</summary>
    private static readonly CudaInstructionSet Isa = CudaInstructionSet.ISA_84;

    private static readonly ConcurrentDictionary<Context, PTXBackend> Backends = new();
    private static readonly ConcurrentDictionary<ProgramKey, PtxProgram> Programs = new();

    /// <summary>A compiled variant: the method, whether its depots are rewritten, its specialized values (compared by value).</summary>
    private sealed record ProgramKey(Context Context, MethodInfo Method, bool RewriteDepots, object[] Specialized)
    {
        public bool Equals(ProgramKey? other) =>
            other is not null && Context == other.Context && Method == other.Method && RewriteDepots == other.RewriteDepots
            && Specialized.SequenceEqual(other.Specialized);

        public override int GetHashCode() =>
            Specialized.Aggregate(HashCode.Combine(Context, Method, RewriteDepots), (h, v) => HashCode.Combine(h, v));
    }

    /// <summary>Instructions executed by every launch so far (all threads): the cost of a test case on this device.</summary>
    public static long Executed => Interlocked.Read(ref executed);
    private static long executed;

    /// <summary>The <see cref="KernelLaunchers.RunnerSource"/> of the "ptx" device.</summary>
    public static KernelLaunchers.Runner Source(Accelerator accelerator, MethodInfo method, object[] specialized, bool rewriteDepots)
    {
        var program = Program(accelerator.Context, method, specialized, rewriteDepots);
        bool implicitlyGrouped = SpecializedCompilation.IsImplicitlyGrouped(method);
        return (stream, extent, arguments) =>
        {
            stream.Synchronize();
            var (grid, block) = Geometry(extent, implicitlyGrouped, method);
            var global = new PtxGlobalMemory();
            object?[] values = implicitlyGrouped ? [extent, .. arguments] : arguments;
            var parameters = PtxArguments.Marshal(program, values, global);
            var machine = new PtxMachine(program, global);
            machine.Launch(grid, block, parameters, extent is KernelConfig c ? c.SharedMemoryConfig.ArraySize : 0);
            Interlocked.Add(ref executed, machine.Executed);
        };
    }

    /// <summary>The parsed PTX of <paramref name="method"/> for one set of specialized values (compiled once per process).</summary>
    public static PtxProgram Program(Context context, MethodInfo method, object[] specialized, bool rewriteDepots)
    {
        return Programs.GetOrAdd(new ProgramKey(context, method, rewriteDepots, specialized), _ =>
        {
            var backend = Backends.GetOrAdd(context, c => new PTXBackend(c, CudaArchitecture.SM_90, Isa, null!));
            string ptx;
            lock (backend) // one compilation at a time per backend
                ptx = ((PTXCompiledKernel)SpecializedCompilation.Compile(backend, method, specialized)).PTXAssembly;
            if (rewriteDepots) ptx = PtxDepots.Rewrite(ptx).Ptx;
            return PtxProgram.Parse(ptx);
        });
    }

    private static ((int, int, int) Grid, (int, int, int) Block) Geometry(object extent, bool implicitlyGrouped, MethodInfo method)
    {
        static int Up(int n, int d) => Math.Max(1, (n + d - 1) / d);
        return extent switch
        {
            KernelConfig c when !implicitlyGrouped => ((c.GridDim.X, c.GridDim.Y, c.GridDim.Z), (c.GroupDim.X, c.GroupDim.Y, c.GroupDim.Z)),
            Index1D i when implicitlyGrouped => ((Up(i.X, ImplicitGroup), 1, 1), (ImplicitGroup, 1, 1)),
            Index2D i when implicitlyGrouped => ((Up(i.X, ImplicitGroup), Math.Max(1, i.Y), 1), (ImplicitGroup, 1, 1)),
            Index3D i when implicitlyGrouped => ((Up(i.X, ImplicitGroup), Math.Max(1, i.Y), Math.Max(1, i.Z)), (ImplicitGroup, 1, 1)),
            _ => throw new ArgumentException($"{method.Name}: launch extent {extent.GetType().Name}"),
        };
    }
}
