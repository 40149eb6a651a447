using System.Collections.Concurrent;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuStyle.Kernels;

/// <summary>
/// One accelerator plus everything bound to it: the kernel cache (each kernel is compiled once per
/// accelerator, never inside a loop), launch decisions for this device (<see cref="Plan"/>), and allocation
/// accounting (live bytes, peak bytes, number of allocations) used by the bench and by the memory cap.
/// </summary>
public sealed class Gpu : IDisposable
{
    private readonly Context context;
    private readonly bool ownsContext;
    private readonly ConcurrentDictionary<System.Reflection.MethodInfo, Delegate> kernels = new();
    private readonly ConcurrentDictionary<(System.Reflection.MethodInfo, object), Delegate> rewrittenKernels = new();
    private long liveBytes;
    private long peakBytes;
    private long allocationCount;

    /// <summary>
    /// Wraps <paramref name="accelerator"/>. <paramref name="plan"/>: the launch decisions (tests, tuning); by default
    /// <see cref="TuningPlan.For"/> (the device's defaults, overridden by ILGPU_STYLE_TILES). <paramref name="kernelLoader"/>:
    /// every <see cref="Kernel{TDelegate}"/> through <see cref="KernelLaunchers"/> with it (tests); by default ILGPU's
    /// loaders, or on CUDA the <see cref="KernelCache"/> (without one, <see cref="SpecializedCompilation"/> each run). <paramref name="kernelRunner"/>: every kernel, the rewritten ones
    /// included, run by its runners instead (the tests' PTX interpreter; memory stays the accelerator's). An invalid plan throws
    /// <see cref="ArgumentException"/> here, before any kernel runs (the accelerator and an owned context are disposed).
    /// </summary>
    public Gpu(Context context, Accelerator accelerator, DeviceInfo info, bool ownsContext = true, TuningPlan? plan = null,
        KernelLaunchers.Loader? kernelLoader = null, KernelLaunchers.RunnerSource? kernelRunner = null)
    {
        try
        {
            if (plan is null) plan = TuningPlan.For(accelerator);
            else plan.Validate(accelerator.MaxNumThreadsPerGroup);
            MemoryLimitBytes = ReadMemoryLimit();
        }
        catch
        {
            accelerator.Dispose();
            if (ownsContext) context.Dispose();
            throw;
        }
        this.context = context;
        this.ownsContext = ownsContext;
        Accelerator = accelerator;
        Info = info;
        Plan = plan;
        this.kernelRunner = kernelRunner;
        KernelCache = accelerator is CudaAccelerator ? PtxKernelCache.FromEnvironment(Environment.GetEnvironmentVariable) : null;
        // On CUDA every kernel is compiled by SpecializedCompilation (as the cache does, or without it), never by ILGPU's
        // own specializing loader: its PTX keeps ILGPU's .target sm_80 where a kernel needs sm_90 (SpecializedCompilation.RaiseTarget).
        this.kernelLoader = kernelLoader ?? (accelerator is CudaAccelerator cuda
            ? KernelCache is { } cache
                ? (_, method, specialized, load) => cache.Load(cuda, method, specialized, rewriteDepots: false, load)
                : (_, method, specialized, load) => load(SpecializedCompilation.Compile(cuda.Backend, method, specialized))
            : null);
    }

    /// <summary>
    /// Every launch decision on this device (kernel kinds, blockings, group sizes): set when it opened, or by
    /// <see cref="UsePlan"/> (the autotuner, before a run).
    /// </summary>
    public TuningPlan Plan { get; private set; }

    /// <summary>
    /// Makes <paramref name="plan"/> this device's launch decisions from the next launch on (after the queued work
    /// finished). Throws <see cref="ArgumentException"/> when it does not fit the device; the plan is then unchanged.
    /// </summary>
    public void UsePlan(TuningPlan plan)
    {
        plan.Validate(Accelerator.MaxNumThreadsPerGroup);
        Synchronize();
        Plan = plan;
    }

    public Accelerator Accelerator { get; }
    public DeviceInfo Info { get; }
    public string Name => Info.Name;
    public AcceleratorType Kind => Accelerator.AcceleratorType;

    /// <summary>Threads per group for 1-D kernels (<see cref="TuningPlan.Group1D"/>).</summary>
    public int GroupSize1D => Plan.Group1D;

    /// <summary>Largest <see cref="Tile"/>; kernels size their static shared arrays with it.</summary>
    public const int MaxTile = 16;

    /// <summary>Side of the square thread tile used by 2-D tiled kernels (conv, Gram) (<see cref="TuningPlan.Tile"/>).</summary>
    public int Tile => Plan.Tile;

    /// <summary>Bytes currently allocated through this object.</summary>
    public long LiveBytes => Interlocked.Read(ref liveBytes);

    /// <summary>Highest <see cref="LiveBytes"/> seen since creation or the last <see cref="ResetPeak"/>.</summary>
    public long PeakBytes => Interlocked.Read(ref peakBytes);

    /// <summary>Number of device allocations made so far.</summary>
    public long AllocationCount => Interlocked.Read(ref allocationCount);

    /// <summary>
    /// Optional cap on <see cref="LiveBytes"/> (environment variable ILGPU_STYLE_MAX_MEMORY, bytes or with
    /// a K/M/G suffix). An allocation past it fails like a real device out-of-memory.
    /// </summary>
    public long? MemoryLimitBytes { get; set; }

    public void ResetPeak() => Interlocked.Exchange(ref peakBytes, Interlocked.Read(ref liveBytes));

    public Tensor Allocate(Shape4 shape) => new(this, shape);

    public Tensor Allocate(int c, int h, int w) => new(this, Shape4.Image(c, h, w));

    public Tensor FromHost(Shape4 shape, ReadOnlySpan<float> data)
    {
        var t = new Tensor(this, shape);
        t.CopyFromHost(data);
        return t;
    }

    private readonly ConcurrentDictionary<string, Tensor> scratch = new();

    /// <summary>
    /// A device buffer owned by this Gpu and reused by every call with the same key (e.g. reduction
    /// partials), so hot paths allocate nothing after their first call. Contents are undefined on entry.
    /// Not for buffers that must survive the next call of the same op.
    /// </summary>
    public Tensor Scratch(Shape4 shape, string key)
    {
        var t = scratch.GetOrAdd($"{key}:{shape}", _ => Allocate(shape));
        return t;
    }

    private readonly Dictionary<string, Tensor> growing = new();

    /// <summary>
    /// A device vector of at least <paramref name="count"/> floats, one per key, reallocated only when a call needs
    /// more: for scratch that kernels read through its view alone (padded copies, split-K partials), whose size varies
    /// with the shape (every layer, every tile) — one buffer per shape, as <see cref="Scratch"/> keeps, would add up.
    /// Contents are undefined on entry.
    /// </summary>
    public Tensor ScratchAtLeast(int count, string key)
    {
        lock (growing)
        {
            if (growing.TryGetValue(key, out var t) && t.Count >= count) return t;
            if (t is not null)
            {
                Synchronize(); // kernels queued on the old buffer finish before it is freed
                t.Dispose();
                growing.Remove(key);
            }
            var grown = Allocate(Shape4.Vector(count));
            growing[key] = grown;
            return grown;
        }
    }

    /// <summary>Bytes the <see cref="ScratchAtLeast"/> buffer of <paramref name="key"/> holds now (0: not allocated).</summary>
    public long ScratchBytes(string key)
    {
        lock (growing) return growing.TryGetValue(key, out var t) ? t.Count * sizeof(float) : 0;
    }

    /// <summary>
    /// Frees every <see cref="Scratch"/> and <see cref="ScratchAtLeast"/> buffer; the next call with a key allocates it again. For benchmarks that
    /// measure one workload's own memory (scratch buffers otherwise live as long as this Gpu). Not while kernels
    /// that use scratch buffers may still be running on another thread.
    /// </summary>
    public void ReleaseScratch()
    {
        Synchronize();
        foreach (var key in scratch.Keys)
            if (scratch.TryRemove(key, out var t)) t.Dispose();
        lock (growing)
        {
            foreach (var t in growing.Values) t.Dispose();
            growing.Clear();
        }
    }

    /// <summary>
    /// Returns the kernel compiled from <paramref name="kernelMethod"/>, loading it on first use: through
    /// <paramref name="load"/> (ILGPU's loaders), or on CUDA devices with a <see cref="KernelCache"/> through
    /// <see cref="KernelLaunchers"/> with the PTX of earlier runs (a launcher of the same type, the same kernels).
    /// </summary>
    public TDelegate Kernel<TDelegate>(Delegate kernelMethod, Func<Accelerator, TDelegate> load)
        where TDelegate : Delegate =>
        (TDelegate)kernels.GetOrAdd(kernelMethod.Method, method => kernelRunner is not null
            ? KernelLaunchers.Create<TDelegate>(Accelerator, method, kernelRunner)
            : kernelLoader is not null
            ? KernelLaunchers.Create<TDelegate>(Accelerator, method, kernelLoader)
            : load(Accelerator));

    /// <summary>
    /// Where CUDA kernels' PTX is kept across runs (<see cref="PtxKernelCache.FromEnvironment"/>); null on other devices,
    /// and with ILGPU_STYLE_KERNEL_CACHE=off: every kernel is then compiled by ILGPU in this process.
    /// </summary>
    public PtxKernelCache? KernelCache { get; }

    // How Kernel loads kernels: null, ILGPU's loaders (the caller's); on CUDA with a cache, from it.
    private readonly KernelLaunchers.Loader? kernelLoader;

    // Runs every kernel instead of the accelerator (tests), or null.
    private readonly KernelLaunchers.RunnerSource? kernelRunner;

    /// <summary>
    /// The kernel compiled from <paramref name="kernelMethod"/> for one specialized value, through
    /// <see cref="RewrittenPtxKernels"/> (on CUDA: ILGPU's inline-asm operands in registers), loading it on first use.
    /// The launcher is explicitly grouped and takes a stream: <c>launcher(gpu.Stream, config, …)</c>. A kernel whose launches
    /// ask for more than 48 KiB of dynamic shared memory passes the most it asks, <paramref name="dynamicSharedBytes"/>
    /// (<see cref="DynamicSharedMemory.Allow"/>).
    /// </summary>
    public TDelegate RewrittenPtxKernel<TDelegate>(Delegate kernelMethod, object specialized, int dynamicSharedBytes = 0)
        where TDelegate : Delegate =>
        (TDelegate)rewrittenKernels.GetOrAdd((kernelMethod.Method, specialized),
            key => kernelRunner is not null
                ? (TDelegate)KernelLaunchers.Wrap(kernelRunner(Accelerator, key.Item1, [key.Item2], rewriteDepots: true), typeof(TDelegate))
                : Accelerator is CudaAccelerator cuda && KernelCache is { } cache
                ? Allowed(cache.Load(cuda, key.Item1, [key.Item2], rewriteDepots: true, cuda.LoadKernel), dynamicSharedBytes).CreateLauncherDelegate<TDelegate>()
                : RewrittenPtxKernels.Load<TDelegate>(Accelerator, key.Item1, [key.Item2], out _, dynamicSharedBytes));

    private static Kernel Allowed(Kernel kernel, int dynamicSharedBytes)
    {
        DynamicSharedMemory.Allow(kernel, dynamicSharedBytes);
        return kernel;
    }

    /// <summary>The stream kernels run on (ILGPU's default stream of the accelerator).</summary>
    public AcceleratorStream Stream => Accelerator.DefaultStream;

    /// <summary>Launch geometry for a 1-D explicitly grouped kernel over <paramref name="n"/> items.</summary>
    public KernelConfig Groups1D(int n) => new(Math.Max(1, DivUp(n, GroupSize1D)), GroupSize1D);

    public static int DivUp(int a, int b) => (a + b - 1) / b;

    /// <summary>Whether <paramref name="accelerator"/> is an OpenCL CPU device (PoCL): the devices whose plans and kernels are CPU-shaped.</summary>
    public static bool IsOpenClCpu(Accelerator accelerator) =>
        accelerator is ILGPU.Runtime.OpenCL.CLAccelerator cl && cl.DeviceType == ILGPU.Runtime.OpenCL.CLDeviceType.CL_DEVICE_TYPE_CPU;

    /// <summary>Work-items along x of <see cref="RowGrid"/> launches (<see cref="TuningPlan.RowGroup"/>).</summary>
    public int RowGroup => Plan.RowGroup;

    /// <summary>
    /// Launch geometry for a 3-D explicitly grouped kernel over <paramref name="width"/> × <paramref name="rows"/> ×
    /// <paramref name="planes"/> items, <see cref="RowGroup"/> work-items along x: work-item x = Grid.IdxX·Group.DimX +
    /// Group.IdxX, row = Grid.IdxY, plane = Grid.IdxZ. No per-element division, and groups no wider than a short row
    /// needs (ILGPU's auto-grouped 2-D/3-D launches use the device's largest group along x; see doc/PERFORMANCE.md).
    /// </summary>
    public KernelConfig RowGrid(int width, int rows, int planes) =>
        new(new Index3D(Math.Max(1, DivUp(width, RowGroup)), Math.Max(1, rows), Math.Max(1, planes)), new Index3D(RowGroup, 1, 1));

    public void Synchronize() => Accelerator.Synchronize();

    internal MemoryBuffer1D<float, Stride1D.Dense> AllocateRaw(int count)
    {
        long bytes = (long)count * sizeof(float);
        if (MemoryLimitBytes is long limit && LiveBytes + bytes > limit)
            throw new DeviceOutOfMemoryException(Name, bytes, LiveBytes, limit);
        MemoryBuffer1D<float, Stride1D.Dense> buffer;
        try
        {
            buffer = Accelerator.Allocate1D<float>(count);
        }
        catch (Exception e) when (DeviceOutOfMemoryException.IsOutOfMemory(e))
        {
            throw new DeviceOutOfMemoryException(Name, bytes, LiveBytes, Info.MemoryBytes, e);
        }
        long live = Interlocked.Add(ref liveBytes, bytes);
        Interlocked.Increment(ref allocationCount);
        long peak;
        while (live > (peak = Interlocked.Read(ref peakBytes)) &&
               Interlocked.CompareExchange(ref peakBytes, live, peak) != peak) { }
        return buffer;
    }

    internal void Released(int count) => Interlocked.Add(ref liveBytes, -(long)count * sizeof(float));

    private static long? ReadMemoryLimit()
    {
        var text = Environment.GetEnvironmentVariable("ILGPU_STYLE_MAX_MEMORY");
        try
        {
            return string.IsNullOrWhiteSpace(text) ? null : ByteSize.Parse(text);
        }
        catch (ByteSizeException e)
        {
            throw new ByteSizeException($"ILGPU_STYLE_MAX_MEMORY: {e.Message}");
        }
    }

    public void Dispose()
    {
        kernels.Clear();
        rewrittenKernels.Clear();
        foreach (var t in scratch.Values) t.Dispose();
        scratch.Clear();
        foreach (var t in growing.Values) t.Dispose();
        growing.Clear();
        Accelerator.Dispose();
        if (ownsContext) context.Dispose();
    }

    public override string ToString() => Info.ToString();
}
