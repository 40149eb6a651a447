using ILGPU.Runtime;
using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests;

/// <summary>
/// The device matrix of every kernel test, defined here and nowhere else: "cpu" (ILGPU's simulator, always),
/// "opencl" and "cuda", each the first usable device of that kind in <see cref="DeviceCatalog"/>.
/// A missing OpenCL or CUDA device turns its cases into skips that say why — except that under CI=true a missing
/// OpenCL device fails the test (CI installs PoCL and must exercise it). CI has no GPU, so cuda cases skip there too.
/// Each device is opened once per test run and shared.
/// </summary>
public static class Devices
{
    /// <summary>The matrix, in the order cases are listed.</summary>
    public static IReadOnlyList<string> Names { get; } = ["cpu", "opencl", "cuda"];

    /// <summary>One case per device.</summary>
    public static TheoryData<string> All
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var device in Names) data.Add(device);
            return data;
        }
    }

    /// <summary>
    /// The matrix and "ptx" (the kernels' PTX for sm_90 run by the tests' interpreter, see <see cref="TensorCoreNames"/>):
    /// for the tests of the GPU-shaped FP32 kernels — the shared-memory SGEMMs and tiles, the Gram kernels — so that the
    /// code a GPU would run is executed, not only compiled, while no GPU is at hand.
    /// </summary>
    public static IReadOnlyList<string> NamesAndPtx { get; } = [.. Names, "ptx"];

    /// <summary>Every device × every (channels, height, width) image shape: the usual kernel-test cases.</summary>
    public static TheoryData<string, int, int, int> WithShapes(params (int C, int H, int W)[] shapes) => WithShapes(Names, shapes);

    /// <summary>Every device of <paramref name="devices"/> × every image shape.</summary>
    public static TheoryData<string, int, int, int> WithShapes(IReadOnlyList<string> devices, params (int C, int H, int W)[] shapes)
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var device in devices)
        foreach (var (c, h, w) in shapes)
            data.Add(device, c, h, w);
        return data;
    }

    /// <summary>Every device × every value of one more parameter.</summary>
    public static TheoryData<string, T> With<T>(params T[] values)
    {
        var data = new TheoryData<string, T>();
        foreach (var device in Names)
        foreach (var v in values)
            data.Add(device, v);
        return data;
    }

    /// <summary>Every device × every pair of two more parameters.</summary>
    public static TheoryData<string, T1, T2> With<T1, T2>(params (T1, T2)[] values)
    {
        var data = new TheoryData<string, T1, T2>();
        foreach (var device in Names)
        foreach (var (a, b) in values)
            data.Add(device, a, b);
        return data;
    }

    /// <summary>
    /// The devices of the tensor-core (TF32) kernel tests, not part of <see cref="Names"/>: "cpu32", the CPU simulator
    /// with 32-lane warps (the kernels' warp-level products need them; see <see cref="DeviceCatalog.OpenWarp32Simulator"/>),
    /// where they run with the emulated tensor-core product, "ptx" (their PTX as the CUDA path compiles it for sm_90,
    /// mma.sync and cp.async included, run by the tests' PTX interpreter, Ptx/PtxMachine.cs, with bounds and race checks),
    /// and "cuda" (the real instruction; skips without a GPU).
    /// </summary>
    public static IReadOnlyList<string> TensorCoreNames { get; } = ["cpu32", "ptx", "cuda"];

    /// <summary>One case per tensor-core test device.</summary>
    public static TheoryData<string> TensorCores
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var device in TensorCoreNames) data.Add(device);
            return data;
        }
    }

    private static readonly Lazy<Gpu> Cpu = new(() => DeviceCatalog.Open("cpu"));
    private static readonly Lazy<Gpu> Cpu32 = new(() => DeviceCatalog.OpenWarp32Simulator());

    // The PTX interpreter (Ptx/PtxMachine.cs) over the 32-lane simulator's memory: every kernel compiled for sm_90 as the
    // CUDA path compiles it and executed as PTX, with a CUDA device's default plan. Groups up to 1024 threads (the
    // interpreter runs them; the simulator does not).
    private static readonly Lazy<Gpu> PtxInterpreter = new(() =>
    {
        var gpu = DeviceCatalog.OpenWarp32Simulator(32, Ptx.PtxKernels.Source);
        gpu.UsePlan(TuningPlan.Default(AcceleratorType.Cuda, cpuDevice: false, gpu.Accelerator.MaxNumThreadsPerGroup));
        return gpu;
    });
    private static readonly Lazy<(Gpu? Gpu, string? Why)> OpenCl = new(() => OpenFirst("opencl", AcceleratorType.OpenCL));
    private static readonly Lazy<(Gpu? Gpu, string? Why)> Cuda = new(() => OpenFirst("cuda", AcceleratorType.Cuda));

    /// <summary>
    /// For tests of the CLI's options, whose outcome does not depend on the device: "opencl" when a usable OpenCL
    /// device is present (a 32 px run takes a second or two there), else "cpu" (the simulator: tens of seconds).
    /// </summary>
    public static string QuickestForOptionTests { get; } =
        DeviceCatalog.List().Any(d => d.Usable && d.Kind == AcceleratorType.OpenCL) ? "opencl" : "cpu";

    /// <summary>The shared device for <paramref name="name"/>; skips the calling test when it is absent (see the class).</summary>
    public static Gpu Get(string name)
    {
        switch (name)
        {
            case "cpu":
                return Cpu.Value;
            case "cpu32":
                return Cpu32.Value;
            case "ptx":
                return PtxInterpreter.Value;
            case "opencl":
            {
                var (gpu, why) = OpenCl.Value;
                if (gpu is not null) return gpu;
                if (Environment.GetEnvironmentVariable("CI") == "true")
                    throw new InvalidOperationException($"CI=true but no usable OpenCL device: {why}");
                Assert.Skip($"OpenCL case skipped: {why}");
                return null!;
            }
            case "cuda":
            {
                var (gpu, why) = Cuda.Value;
                if (gpu is not null) return gpu;
                Assert.Skip($"CUDA case skipped: {why}");
                return null!;
            }
            default:
                throw new ArgumentException($"unknown test device '{name}' (the matrix is {string.Join(", ", Names)}; tensor-core tests: {string.Join(", ", TensorCoreNames)})", nameof(name));
        }
    }

    private static readonly Dictionary<string, Gpu> Exact = [];

    /// <summary>
    /// <paramref name="name"/>'s device opened once more (shared, skips as <see cref="Get"/>), its plan running Winograd as
    /// F(2×2, 3×3): for the tests that a tiled evaluation equals the untiled one (relative 1e-5). F(4×4, 3×3), the CPU
    /// devices' default, rounds differently in each tiling by ~2e-4 relative L2 of the gradient — as much as a halo one
    /// step short (5e-4) — where F(2×2, 3×3) stays below 1e-5.
    /// </summary>
    public static Gpu GetWithExactTiling(string name)
    {
        Get(name);
        lock (Exact)
        {
            if (!Exact.TryGetValue(name, out var gpu))
            {
                gpu = DeviceCatalog.Open(name);
                gpu.UsePlan(gpu.Plan with { WinogradOutputTile = 2 });
                Exact[name] = gpu;
            }
            return gpu;
        }
    }

    /// <summary>
    /// The fastest device for whole stylizations in tests: "opencl" when one is usable (PoCL runs a small image in a
    /// second), else "cpu" — the simulator spins 16 threads per kernel launch and turns a tiled 32 px run into minutes.
    /// </summary>
    public static string FastestForRuns => OpenCl.Value.Gpu is not null ? "opencl" : "cpu";

    private static (Gpu?, string?) OpenFirst(string kind, AcceleratorType type)
    {
        try
        {
            var list = DeviceCatalog.List().Where(d => d.Kind == type).ToList();
            var usable = list.FirstOrDefault(d => d.Usable);
            if (usable is not null) return (DeviceCatalog.Open(usable.Id), null);
            if (list.Count > 0)
                return (null, $"no usable {kind} device: " + string.Join("; ", list.Select(d => $"{d.Id} {d.WhyNot}")));
            return (null, type == AcceleratorType.Cuda
                ? "no CUDA device: " + DeviceCatalog.WhyNoCuda()
                : "no OpenCL device found (install PoCL >= 6: see README)");
        }
        catch (Exception e)
        {
            return (null, $"{kind} could not be initialised: {e.GetType().Name}: {e.Message}");
        }
    }
}
