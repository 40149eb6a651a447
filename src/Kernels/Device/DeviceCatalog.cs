using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace IlgpuStyle.Kernels;

/// <summary>
/// The one place that creates the ILGPU context and picks an accelerator.
/// Device ids: "cuda:N", "opencl:N", "cpu" (the ILGPU CPU simulator; for tests, not for users).
/// OpenCL devices ILGPU cannot use (it needs the generic address space of OpenCL C 2.0) are listed
/// with the reason, not dropped.
/// </summary>
public static class DeviceCatalog
{
    /// <summary>Every device found on this machine, usable or not, in the order auto prefers them.</summary>
    public static IReadOnlyList<DeviceInfo> List()
    {
        using var context = CreateContext();
        return Describe(context).Select(d => d.Info).ToList();
    }

    /// <summary>
    /// Opens the device named by <paramref name="spec"/>: auto | cuda | opencl | cpu, optionally ":index"
    /// (opencl:1). <paramref name="why"/> says what was picked and why. <paramref name="kernelLoader"/>: see <see cref="Gpu"/>'s constructor.
    /// </summary>
    public static Gpu Open(string spec, out string why, KernelLaunchers.Loader? kernelLoader = null)
    {
        var (kind, index) = Parse(spec);
        // --device cuda lists the CUDA devices alone: no OpenCL platform is started (NVIDIA's own ICD, PoCL: ~60 ms here).
        var context = kind == "cuda" ? CreateCudaContext() : CreateContext(kind == "opencl" ? OpenClOptimization : OptimizationLevel.O2);
        try
        {
            var all = Describe(context);
            (Device device, DeviceInfo info) chosen;
            if (kind == "auto")
            {
                chosen = all.FirstOrDefault(d => d.Info.Usable);
                if (chosen.device is null)
                    throw new DeviceSelectionException("no usable device found (not even the CPU simulator).");
                var skipped = all.Where(d => !d.Info.Usable).Select(d => $"{d.Info.Id} unusable: {d.Info.WhyNot}");
                why = $"auto picked {chosen.info.Id} ({chosen.info.Name}, {chosen.info.Type}): " +
                      AutoReason(chosen.info) + (skipped.Any() ? "; " + string.Join("; ", skipped) : "");
            }
            else
            {
                var ofKind = all.Where(d => d.Info.Id.Split(':')[0] == kind).ToList();
                if (ofKind.Count == 0)
                    throw new DeviceSelectionException(kind == "cpu"
                        ? "the CPU simulator is not available."
                        : $"no {kind} device found. Run 'ilgpu-style devices' to see what is available.");
                if (index < 0 || index >= ofKind.Count)
                    throw new DeviceSelectionException(
                        $"device {spec} does not exist: there {(ofKind.Count == 1 ? "is 1 " + kind + " device" : "are " + ofKind.Count + " " + kind + " devices")} ({string.Join(", ", ofKind.Select(d => d.Info.Id))}).");
                chosen = ofKind[index];
                if (!chosen.info.Usable)
                    throw new DeviceSelectionException($"device {chosen.info.Id} ({chosen.info.Name}) cannot be used: {chosen.info.WhyNot}");
                why = $"using {chosen.info.Id} ({chosen.info.Name}, {chosen.info.Type}) as requested";
            }
            if (chosen.info.Kind == AcceleratorType.OpenCL && PoclCacheDirectory.EnsureUsable() is { } note) why += "; " + note;
            if (chosen.info.Kind == AcceleratorType.OpenCL && kind != "opencl")
            {
                // Same device from a context that leaves optimization to the OpenCL compiler (see OpenClOptimization).
                var id = chosen.info.Id;
                context.Dispose();
                context = CreateContext(OpenClOptimization);
                chosen = Describe(context).First(d => d.Info.Id == id);
            }
            var accelerator = chosen.device.CreateAccelerator(context);
            if (accelerator is CLAccelerator cl && !MulAdd.DeviceHasFma(cl.DeviceId)) MulAdd.UseMad(cl.Backend);
            return new Gpu(context, accelerator, chosen.info, kernelLoader: kernelLoader);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    public static Gpu Open(string spec) => Open(spec, out _);

    /// <summary>
    /// The ILGPU CPU simulator with NVIDIA-shaped warps: 32 lanes, <paramref name="warpsPerGroup"/> warps per group
    /// (the default "cpu" simulator has 4-lane warps). Not a --device choice: the tests run the tensor-core kernels on it,
    /// whose warp-level products (<see cref="TensorCores.WarpMma"/>) need 32-lane warps. Each lane is an OS thread that
    /// spins at barriers, so groups are kept small (2 warps: 64 threads; 4 made 1-warp launches 5× slower on 2 cores).
    /// </summary>
    public static Gpu OpenWarp32Simulator(int warpsPerGroup = 2) => OpenWarp32Simulator(warpsPerGroup, null);

    /// <summary>
    /// The 32-lane simulator whose kernels <paramref name="kernelRunner"/> runs (null: the simulator itself): the tests'
    /// "ptx" device, the PTX interpreter over this accelerator's memory.
    /// </summary>
    public static Gpu OpenWarp32Simulator(int warpsPerGroup, KernelLaunchers.RunnerSource? kernelRunner)
    {
        var device = new CPUDevice(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: warpsPerGroup, numMultiprocessors: 1);
        var context = Context.Create(builder =>
        {
            builder.Optimize(OptimizationLevel.O2);
            builder.CPU(device);
            RegisterIntrinsics(builder);
        });
        try
        {
            var d = context.Devices.Single(x => x is CPUDevice);
            var info = kernelRunner is null
                ? Info(d, "cpu32", $"ILGPU CPU simulator, 32-lane warps, {warpsPerGroup} per group (tests)", true, null)
                : Info(d, "ptx", "PTX interpreter over CPU memory, the kernels compiled for sm_90 (tests)", true, null);
            return new Gpu(context, d.CreateAccelerator(context), info, kernelRunner: kernelRunner);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Why no CUDA device is listed, in one line: ILGPU finds CUDA devices silently or not at all, so this looks at
    /// the driver library itself. ILGPU loads the driver by the name "libcuda.so" on Linux ("nvcuda" on Windows); a
    /// machine with only "libcuda.so.1" (the runtime-only driver packages of some distributions and containers) has a
    /// working driver that ILGPU does not see. Null when a CUDA device is listed.
    /// </summary>
    public static string? WhyNoCuda()
    {
        if (List().Any(d => d.Kind == AcceleratorType.Cuda)) return null;
        if (OperatingSystem.IsWindows())
            return NativeLibrary.TryLoad("nvcuda.dll", out var h) && Free(h)
                ? "nvcuda.dll loads but the driver reports no CUDA device"
                : "no NVIDIA driver (nvcuda.dll not found)";
        if (NativeLibrary.TryLoad("libcuda.so", out var plain) && Free(plain))
            return "libcuda.so loads but ILGPU finds no CUDA device (no NVIDIA GPU, or the driver failed to initialise: see nvidia-smi)";
        if (NativeLibrary.TryLoad("libcuda.so.1", out var versioned) && Free(versioned))
            return "libcuda.so.1 exists but libcuda.so does not, and ILGPU loads the driver as libcuda.so: " +
                   "link it (ln -s libcuda.so.1 libcuda.so in a folder on LD_LIBRARY_PATH) or install the driver's development package";
        return "no NVIDIA driver (neither libcuda.so nor libcuda.so.1 can be loaded)";
    }

    private static bool Free(IntPtr handle)
    {
        NativeLibrary.Free(handle);
        return true;
    }

    /// <summary>Parses "auto", "cpu", "cuda", "opencl", "opencl:1". Throws on anything else.</summary>
    public static (string Kind, int Index) Parse(string spec)
    {
        var s = (spec ?? "").Trim().ToLowerInvariant();
        var parts = s.Split(':');
        var kind = parts[0];
        if (kind is not ("auto" or "cpu" or "cuda" or "opencl") || parts.Length > 2)
            throw new DeviceSelectionException($"unknown device '{spec}': use auto, cuda, opencl or cpu, optionally with an index (opencl:1).");
        int index = 0;
        if (parts.Length == 2 && (!int.TryParse(parts[1], out index) || index < 0 || kind == "auto"))
            throw new DeviceSelectionException($"unknown device '{spec}': the index after ':' must be a whole number ≥ 0 (opencl:1).");
        return (kind, index);
    }

    /// <summary>
    /// ILGPU's optimization level for OpenCL devices. Their driver compiles the generated OpenCL C with its own
    /// optimizer (PoCL: clang -O2 and its vectorizers), so ILGPU's O2 passes only cost start-up: on PoCL a 64 px
    /// one-iteration stylize reached its first evaluation after 2.6–2.8 s at O0 against 4.3–4.5 s at O2 (quiet Zen 5),
    /// with the same whole-iteration time at 256² (0.66–0.83 s either way, alternating runs). CUDA (its PTX is
    /// ILGPU's own code generation) and the CPU simulator (O0 made its kernel tests 18 % slower) keep O2.
    /// </summary>
    private const OptimizationLevel OpenClOptimization = OptimizationLevel.O0;

    /// <summary>The library's ILGPU intrinsics: MulAdd and the OpenCL C vector kernels (VectorProduct16, WinogradVectorInput, WinogradVectorOutput).</summary>
    private static void RegisterIntrinsics(Context.Builder builder)
    {
        MulAdd.Register(builder);
        VectorProduct16.Register(builder);
        WinogradVectorInput.Register(builder);
        WinogradVectorOutput.Register(builder);
        WinogradGatedRuns.Register(builder);
    }

    /// <summary>
    /// A context made as CUDA devices get theirs (O2, the library's intrinsics), for compiling CUDA kernels without a GPU
    /// (<see cref="ShippedPtx.Precompile"/>): <see cref="PtxKernelCache"/>'s keys hold its settings.
    /// </summary>
    public static Context CreateCudaCompileContext() => CreateContext();

    /// <summary>A context of the CUDA devices alone (--device cuda), made as every other context (O2, the intrinsics).</summary>
    internal static Context CreateCudaContext() => CreateContext(cudaOnly: true);

    /// <summary>
    /// A context at <paramref name="level"/> with the library's intrinsics: every device kind, or with
    /// <paramref name="cudaOnly"/> the CUDA devices alone (no OpenCL platform started).
    /// </summary>
    private static Context CreateContext(OptimizationLevel level = OptimizationLevel.O2, bool cudaOnly = false) =>
        Context.Create(builder =>
        {
            builder.Optimize(level);
            if (!cudaOnly)
            {
                PoclCacheDirectory.EnsureUsable(); // before the first OpenCL call: PoCL offers no platform without its cache
                builder.DefaultCPU();
                // Every OpenCL device, including the ones ILGPU cannot drive, so we can say why.
                builder.OpenCL(_ => true);
            }
            builder.Cuda();
            RegisterIntrinsics(builder);
        });

    private static List<(Device device, DeviceInfo Info)> Describe(Context context)
    {
        var cuda = new List<(Device, DeviceInfo)>();
        var clGpu = new List<(Device, DeviceInfo)>();
        var clOther = new List<(Device, DeviceInfo)>();
        var cpu = new List<(Device, DeviceInfo)>();
        int cudaIndex = 0, clIndex = 0;
        foreach (var d in context.Devices)
        {
            switch (d)
            {
                case CudaDevice:
                    cuda.Add((d, Info(d, $"cuda:{cudaIndex++}", "GPU", true, null)));
                    break;
                case CLDevice cl:
                {
                    var (usable, why) = OpenClUsable(cl);
                    var type = cl.DeviceType.ToString().Replace("CL_DEVICE_TYPE_", "") + $" OpenCL {cl.CVersion}, {cl.PlatformName}";
                    var entry = (d, Info(d, $"opencl:{clIndex++}", type, usable, why));
                    (cl.DeviceType == CLDeviceType.CL_DEVICE_TYPE_GPU ? clGpu : clOther).Add(entry);
                    break;
                }
                case CPUDevice:
                    cpu.Add((d, Info(d, "cpu", "ILGPU CPU simulator (slow; for tests)", true, null)));
                    break;
            }
        }
        // Preference order for auto: CUDA, OpenCL GPU, other OpenCL (e.g. PoCL on the CPU), CPU simulator.
        return [.. cuda, .. clGpu, .. clOther, .. cpu.Take(1)];
    }

    private static DeviceInfo Info(Device d, string id, string type, bool usable, string? why) =>
        new(id, d.AcceleratorType, d.Name.Trim(), type, d.MemorySize, d.NumMultiprocessors,
            d.MaxNumThreadsPerGroup, usable, why);

    private static (bool, string?) OpenClUsable(CLDevice cl)
    {
        if (!cl.Capabilities.GenericAddressSpace)
            return (false, $"GenericAddressSpace feature is not supported (OpenCL C {cl.CVersion}); ILGPU needs it. " +
                           "On Debian/Ubuntu install PoCL ≥ 6 (see README).");
        return (true, null);
    }

    private static string AutoReason(DeviceInfo d) => d.Kind switch
    {
        AcceleratorType.Cuda => "CUDA is preferred when present",
        AcceleratorType.OpenCL when d.Type.StartsWith("GPU") => "no CUDA device; an OpenCL GPU is next",
        AcceleratorType.OpenCL => "no CUDA or OpenCL GPU; an OpenCL CPU device (e.g. PoCL) is next",
        _ => "no CUDA or usable OpenCL device; falling back to the CPU simulator. " + OpenClForCpus,
    };

    /// <summary>
    /// What a machine whose best device is the CPU simulator needs (said by auto's line and by `devices`): the
    /// simulator runs ~0.3–0.6 GFLOP/s, PoCL on the same CPU hundreds of GFLOP/s: one 64 px iteration (`bench
    /// --no-kernels --iteration-sizes 64 --runs 2`, 2 cores of a Zen 5) 11.8 s against 0.042 s, a default 512 px
    /// picture hours against minutes.
    /// </summary>
    public const string OpenClForCpus =
        "It is hundreds of times slower than OpenCL on the same CPU: install PoCL ≥ 6 (Debian 13, Ubuntu 24.04: " +
        "apt-get install pocl-opencl-icd; Debian 12: .ci/install-opencl.sh in the repository), then check with `ilgpu-style devices`.";
}

/// <summary>A --device value that names nothing usable.</summary>
public sealed class DeviceSelectionException(string message) : Exception(message);
