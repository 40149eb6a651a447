using ILGPU;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuStyle.Kernels;
using IlgpuStyle.Kernels.TensorCores;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;
using ScaleLauncher = Action<AcceleratorStream, KernelConfig, SpecializedValue<int>, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>>;

/// <summary>
/// <see cref="RewrittenPtxKernels"/> and <see cref="Gpu.RewrittenPtxKernel{TDelegate}"/>: a kernel with a specialized
/// parameter and an inline-asm output (cvt.rna.tf32 on CUDA: one depot, rewritten into a register) loaded through them
/// computes its definition, on every device (CUDA: the rewritten PTX, loaded by the driver; others: the same loading
/// calls on what ILGPU compiled), one launcher per specialized value. The PTX swap itself offline. The cp.async kernels
/// that use this path are checked bit for bit against the ones ILGPU loads (Conv2dTensorCoreTests, GramTensorCoreTests).
/// </summary>
public class RewrittenPtxKernelsTests
{
    // y[i] = tf32(x[i] · factor)
    private static void ScaleKernel(SpecializedValue<int> factor, View x, View y)
    {
        int i = Grid.GlobalIndex.X;
        if (i < (int)x.Length) y[i] = Tf32.Round(x[i] * factor.Value);
    }

    private static readonly System.Reflection.MethodInfo ScaleMethod =
        typeof(RewrittenPtxKernelsTests).GetMethod(nameof(ScaleKernel), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void ASpecializedKernelLoadedThisWayComputesItsDefinition(string device)
    {
        var gpu = Devices.Get(device);
        const int n = 1000; // not a multiple of the group
        var x = TestData.Uniform(71, n);
        using var tx = gpu.FromHost(Shape4.Vector(n), x);
        using var ty = gpu.Allocate(Shape4.Vector(n));
        foreach (int factor in new[] { 3, 5 })
        {
            ty.Fill(float.NaN);
            // Factor 3 straight through the loader, which says how many depots it rewrote (the cvt's one on CUDA, none
            // elsewhere); factor 5 through Gpu's cache of such launchers.
            ScaleLauncher launch;
            if (factor == 3)
            {
                launch = RewrittenPtxKernels.Load<ScaleLauncher>(gpu.Accelerator, ScaleMethod, [SpecializedValue.New(factor)], out int depots);
                Assert.Equal(device == "cuda" ? 1 : 0, depots);
            }
            else launch = gpu.RewrittenPtxKernel<ScaleLauncher>(ScaleKernel, SpecializedValue.New(factor));
            launch(gpu.Stream, gpu.Groups1D(n), SpecializedValue.New(factor), tx.View, ty.View);
            var y = ty.ToHost();
            for (int i = 0; i < n; i++)
                Assert.True(BitConverter.SingleToInt32Bits(Tf32.RoundEmulated(x[i] * factor)) == BitConverter.SingleToInt32Bits(y[i]),
                    $"factor {factor}, y[{i}] = {y[i]}, expected {Tf32.RoundEmulated(x[i] * factor)} [{device}]");
        }
    }

    [Fact]
    public void EachSpecializedValueIsLoadedOnce()
    {
        // Gpu.RewrittenPtxKernel caches by (method, boxed value): equal values must be one key, or every call would compile.
        var gpu = Devices.Get("cpu");
        var first = gpu.RewrittenPtxKernel<ScaleLauncher>(ScaleKernel, SpecializedValue.New(7));
        Assert.Same(first, gpu.RewrittenPtxKernel<ScaleLauncher>(ScaleKernel, SpecializedValue.New(7)));
        Assert.NotSame(first, gpu.RewrittenPtxKernel<ScaleLauncher>(ScaleKernel, SpecializedValue.New(8)));
        // The conv kernel's key: a tensor-core blocking built twice (as Conv2d builds it per call) is one key.
        object a = SpecializedValue.New(new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8) { AsyncBuffers = 2 });
        object b = SpecializedValue.New(new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8) { AsyncBuffers = 2 });
        object c = SpecializedValue.New(new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8) { AsyncBuffers = 3 });
        Assert.True(a.Equals(b) && a.GetHashCode() == b.GetHashCode(), "equal blockings, different keys");
        Assert.False(a.Equals(c), "different cp.async buffers, one key");
    }

    [Fact]
    public void OnCudaTheAsmOutputsDepotIsRewrittenBeforeLoading()
    {
        // What Load does on CUDA up to the driver: compile specialized, rewrite, swap the text.
        var context = Devices.Get("cpu").Accelerator.Context;
        using var backend = new PTXBackend(context, CudaArchitecture.SM_80, CudaInstructionSet.ISA_84, null!);
        var compiled = (PTXCompiledKernel)SpecializedCompilation.Compile(backend, ScaleMethod, [SpecializedValue.New(3)]);
        Assert.Contains("__local_depot", compiled.PTXAssembly); // the cvt's output, through local memory
        var (rewritten, depots) = PtxDepots.Rewrite(compiled.PTXAssembly);
        Assert.Equal(1, depots);
        RewrittenPtxKernels.ReplacePtx(compiled, rewritten);
        Assert.Same(rewritten, compiled.PTXAssembly);
        Assert.Contains("cvt.rna.tf32.f32", compiled.PTXAssembly);
        Assert.DoesNotContain("__local_depot", compiled.PTXAssembly);
    }

    [Fact]
    public void SpecializedValuesMustMatchTheKernelsParameters()
    {
        var context = Devices.Get("cpu").Accelerator.Context;
        using var backend = new PTXBackend(context, CudaArchitecture.SM_80, CudaInstructionSet.ISA_84, null!);
        Assert.Contains("1 specialized parameters, 0 values", Assert.Throws<ArgumentException>(() => SpecializedCompilation.Compile(backend, ScaleMethod, [])).Message);
        Assert.Contains("SpecializedValue`1", Assert.Throws<ArgumentException>(() => SpecializedCompilation.Compile(backend, ScaleMethod, [SpecializedValue.New(3L)])).Message);
    }
}
