using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// <see cref="KernelLaunchers"/>: every launcher shape the library loads — implicitly grouped (ILGPU's groups), explicitly
/// grouped on a given stream or the default one, with a specialized parameter (one kernel per value) — computes its
/// kernel's definition, on every device. On CUDA the kernels come through <see cref="PtxKernelCache"/>, the second
/// launcher's from the disk (what a later run does); elsewhere ILGPU compiles them in the process.
/// </summary>
public class KernelLaunchersTests
{
    // y[i] += a · x[i], implicitly grouped.
    private static void AxpyKernel(Index1D i, float a, View x, View y) => y[i] += a * x[i];

    // y[i] = x[i] + factor · i, explicitly grouped, the factor specialized. One float rounding (factor · i is an exact
    // integer): x[i] · factor + i was two, and ptxas contracts a multiply and an add into one FMA, so the GPU's bytes
    // differed from C#'s in the last bit (H200, 2026-12-04).
    private static void ScaleKernel(SpecializedValue<int> factor, View x, View y)
    {
        int i = Grid.GlobalIndex.X;
        if (i < (int)x.Length) y[i] = x[i] + factor.Value * i;
    }

    // y[i] = x[i] − b, explicitly grouped, through a shared array (each group reverses its slice twice).
    private static void SharedKernel(View x, View y, float b)
    {
        var tile = SharedMemory.Allocate<float>(64);
        int i = Grid.GlobalIndex.X, t = Group.IdxX;
        tile[63 - t] = i < (int)x.Length ? x[i] : 0f;
        Group.Barrier();
        if (i < (int)x.Length) y[i] = tile[63 - t] - b;
    }

    private static MethodInfo Method(string name) =>
        typeof(KernelLaunchersTests).GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic)!;

    /// <summary>What Gpu.Kernel passes on CUDA (the cache in a fresh folder), and elsewhere ILGPU's compilation in the process.</summary>
    private static KernelLaunchers.Loader LoaderFor(PtxKernelCache cache, List<string> loads) => (accelerator, method, specialized, load) =>
    {
        loads.Add($"{method.Name}{string.Concat(specialized.Select(v => " " + v))}");
        return accelerator is CudaAccelerator cuda
            ? cache.Load(cuda, method, specialized, rewriteDepots: false, load)
            : InProcess(accelerator, method, specialized, load);
    };

    /// <summary>
    /// A loader compiling in the process, unspecialized (the kernel reads specialized values from its arguments): on the
    /// CPU simulator, which runs the managed method, this computes what ILGPU's own loaders' kernels compute.
    /// </summary>
    public static Kernel InProcess(Accelerator accelerator, MethodInfo method, object[] specialized, Func<CompiledKernel, Kernel> load) =>
        load(accelerator.CompileKernel(SpecializedCompilation.EntryOf(method)));

    [Theory]
    [MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void EachLauncherShapeComputesItsKernel(string device)
    {
        var gpu = Devices.Get(device);
        using var dir = new TempDir();
        var cache = new PtxKernelCache(dir.Path);
        const int n = 1000; // not a multiple of any group
        var x = TestData.Uniform(5, n);
        using var tx = gpu.FromHost(Shape4.Vector(n), x);
        using var ty = gpu.Allocate(Shape4.Vector(n));
        // Twice: on CUDA the first round compiles and stores, the second reads every kernel back from the folder.
        for (int round = 0; round < 2; round++)
        {
            var loads = new List<string>();
            var loader = LoaderFor(cache, loads);

            // Implicitly grouped, on the default stream and on a given one.
            var axpy = KernelLaunchers.Create<Action<Index1D, float, View, View>>(gpu.Accelerator, Method(nameof(AxpyKernel)), loader);
            var axpyOn = KernelLaunchers.Create<Action<AcceleratorStream, Index1D, float, View, View>>(gpu.Accelerator, Method(nameof(AxpyKernel)), loader);
            ty.Fill(1f);
            axpy(n, 2f, tx.View, ty.View);
            axpyOn(gpu.Stream, n, -0.5f, tx.View, ty.View);
            var y = ty.ToHost();
            for (int i = 0; i < n; i++) Assert.Equal(1f + 2f * x[i] - 0.5f * x[i], y[i], 5);

            // Explicitly grouped with shared memory.
            var shared = KernelLaunchers.Create<Action<KernelConfig, View, View, float>>(gpu.Accelerator, Method(nameof(SharedKernel)), loader);
            int group = Math.Min(64, gpu.Accelerator.MaxNumThreadsPerGroup);
            shared(new KernelConfig(Gpu.DivUp(n, group), group), tx.View, ty.View, 0.25f);
            y = ty.ToHost();
            for (int i = 0; i < n; i++) Assert.Equal(x[i] - 0.25f, y[i]);

            // A specialized value per launch: each value's kernel loaded once, at its first launch.
            var scale = KernelLaunchers.Create<Action<AcceleratorStream, KernelConfig, SpecializedValue<int>, View, View>>(
                gpu.Accelerator, Method(nameof(ScaleKernel)), loader);
            foreach (int factor in new[] { 3, 5, 3 })
            {
                ty.Fill(float.NaN);
                scale(gpu.Stream, gpu.Groups1D(n), SpecializedValue.New(factor), tx.View, ty.View);
                y = ty.ToHost();
                for (int i = 0; i < n; i++) Assert.Equal(x[i] + factor * i, y[i]);
            }
            Assert.Equal(["AxpyKernel", "AxpyKernel", "SharedKernel", "ScaleKernel 3", "ScaleKernel 5"], loads);
        }
        if (device == "cuda") Assert.Equal(4, Directory.GetFiles(dir.Path, "*.ptxk").Length);
    }

    [Fact]
    public void ALauncherOfTheWrongShapeIsRefused()
    {
        var gpu = Devices.Get("cpu");
        KernelLaunchers.Loader never = (_, _, _, _) => throw new InvalidOperationException("loaded");
        var e = Assert.Throws<ArgumentException>(() =>
            KernelLaunchers.Create<Action<KernelConfig, float, View, View>>(gpu.Accelerator, Method(nameof(AxpyKernel)), never));
        Assert.Contains("AxpyKernel", e.Message);
        Assert.Throws<ArgumentException>(() =>
            KernelLaunchers.Create<Action<Index1D, View, View, float>>(gpu.Accelerator, Method(nameof(SharedKernel)), never));
    }
}
