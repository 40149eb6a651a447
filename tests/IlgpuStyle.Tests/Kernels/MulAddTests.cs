using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

public class MulAddTests(ITestOutputHelper log)
{
    // a = b = 1 + 2⁻¹², c = −(1 + 2⁻¹¹): a·b = 1 + 2⁻¹¹ + 2⁻²⁴ exactly, whose last term a float near 1 (ulp 2⁻²³)
    // cannot hold. Rounded product then add (two roundings): 0. Fused (one rounding): 2⁻²⁴.
    private static readonly float A = 1f + MathF.Pow(2, -12), C = -(1f + MathF.Pow(2, -11));
    private static readonly float Fused = MathF.Pow(2, -24);

    private static void MulAddKernel(Index1D i, View a, View b, View c, View result) => result[i] = MulAdd.Of(a[i], b[i], c[i]);

    private static float RunOn(Gpu gpu, float a, float b, float c)
    {
        var kernel = gpu.Kernel(MulAddKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, View, View, View, View>(MulAddKernel));
        using var ta = gpu.FromHost(Shape4.Vector(1), [a]);
        using var tb = gpu.FromHost(Shape4.Vector(1), [b]);
        using var tc = gpu.FromHost(Shape4.Vector(1), [c]);
        using var tr = gpu.Allocate(Shape4.Vector(1));
        kernel(1, ta.View, tb.View, tc.View, tr.View);
        return tr.ToHost()[0];
    }

    [Fact]
    public void OpenClComputesAFusedMultiplyAdd()
    {
        float r = RunOn(Devices.Get("opencl"), A, A, C);
        log.WriteLine($"opencl MulAdd.Of({A:R}, {A:R}, {C:R}) = {r:R}; fused {Fused:R}, unfused 0");
        Assert.Equal(MathF.FusedMultiplyAdd(A, A, C), Fused);
        Assert.Equal(Fused, r);
    }

    [Fact]
    public void OpenClEmitsFmaExactlyWhereTheDeviceHasIt()
    {
        var cl = (CLAccelerator)Devices.Get("opencl").Accelerator;
        bool hasFma = MulAdd.DeviceHasFma(cl.DeviceId);
        log.WriteLine($"{cl.Name}: CL_FP_FMA {(hasFma ? "yes" : "no")}, emits {(MulAdd.EmitsFma(cl.Backend) ? "fma" : "mad")}");
        Assert.Equal(hasFma, MulAdd.EmitsFma(cl.Backend));
    }

    /// <summary>The generated OpenCL C: fma() by default, mad() once a backend is marked for a device without FMA.</summary>
    [Fact]
    public void OpenClSourceUsesMadForDevicesWithoutFma()
    {
        var cl = (CLAccelerator)Devices.Get("opencl").Accelerator;
        var entry = EntryPointDescription.FromImplicitlyGroupedKernel(
            typeof(MulAddTests).GetMethod(nameof(MulAddKernel), BindingFlags.NonPublic | BindingFlags.Static)!);
        string Source(bool mad)
        {
            using var backend = new CLBackend(cl.Context, cl.Capabilities, cl.Vendor, cl.CLStdVersion);
            if (mad) MulAdd.UseMad(backend);
            return ((CLCompiledKernel)backend.Compile(entry, default)).Source;
        }
        var fused = Source(mad: false);
        var unfused = Source(mad: true);
        Assert.Contains(" fma ", fused);
        Assert.DoesNotContain(" mad ", fused);
        Assert.Contains(" mad ", unfused);
        Assert.DoesNotContain(" fma ", unfused);
    }

    [Fact]
    public void CpuSimulatorComputesThePlainExpression()
    {
        float r = RunOn(Devices.Get("cpu"), A, A, C);
        log.WriteLine($"cpu MulAdd.Of = {r:R} (plain a·b + c)");
        Assert.Equal(0f, r);
        Assert.Equal(7f, RunOn(Devices.Get("cpu"), 2f, 3f, 1f));
    }

    /// <summary>
    /// Every kernel of the library compiles to PTX (CUDA) — no GPU needed to generate it: MulAdd.Of has a CUDA
    /// implementation, and nothing else in the kernels is OpenCL- or CPU-only.
    /// </summary>
    [Fact]
    public void EveryLibraryKernelCompilesForCuda()
    {
        var context = Devices.Get("cpu").Accelerator.Context;
        using var backend = new PTXBackend(context, CudaArchitecture.SM_70, CudaInstructionSet.ISA_70, null!);
        var kernels = typeof(Gpu).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly))
            .Where(m => m.Name.EndsWith("Kernel", StringComparison.Ordinal) && m.ReturnType == typeof(void) && !m.IsGenericMethodDefinition)
            .ToList();
        Assert.True(kernels.Count >= 20, $"found only {kernels.Count} kernels");
        foreach (var method in kernels)
        {
            var first = method.GetParameters().FirstOrDefault()?.ParameterType;
            bool implicitlyGrouped = first == typeof(Index1D) || first == typeof(Index2D) || first == typeof(Index3D);
            var entry = implicitlyGrouped
                ? EntryPointDescription.FromImplicitlyGroupedKernel(method)
                : EntryPointDescription.FromExplicitlyGroupedKernel(method);
            var compiled = (PTXCompiledKernel)backend.Compile(entry, default);
            Assert.Contains(".entry", compiled.PTXAssembly);
            log.WriteLine($"{method.DeclaringType!.Name}.{method.Name}: {compiled.PTXAssembly.Length} chars of PTX");
        }
    }
}
