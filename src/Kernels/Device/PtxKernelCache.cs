// Test: tests/IlgpuStyle.Tests/Kernels/PtxKernelCacheTests.cs (offline: a kernel read back equals the one ILGPU compiled —
// text, entry point, shared memory, bounds —, every input of the key changes the file, a damaged file is compiled again);
// on CUDA every kernel test loads its kernels through it (Gpu.Kernel)
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuStyle.Kernels;

/// <summary>
/// ILGPU's PTX kept on disk across runs, so a CUDA run compiles each kernel variant once per build of the library, not
/// once per process: ILGPU 1.5.3 generates PTX at 20–700 ms a kernel (PtxasTests' "ilgpu ms"), seconds of every CUDA
/// run's start-up otherwise. One file per kernel variant, named by a hash of everything that shapes its code: ILGPU's
/// version, the kernel's assembly build (module version id) and method token, the specialized values, the PTX
/// architecture and instruction set, the context's code-generation settings, the launch bounds and whether ILGPU's
/// asm operand depots were rewritten (<see cref="PtxDepots"/>). The file holds that key in full (a hash collision reads
/// as a miss), the shared memory ILGPU's loader needs, and the PTX; it is written whole or not at all (a temporary
/// file renamed). A file that cannot be read or does not match is compiled again and replaced. Each build of the library
/// writes new files: a read marks its file used, and the first write of a process removes files unused for
/// <see cref="UnusedDays"/> days and, past <see cref="MaxFiles"/>, the longest unused.
/// A variant this folder lacks is read from <see cref="Shipped"/> (PTX made ahead of time for this build and shipped with
/// the program, read where it is) before ILGPU compiles it.
/// <para>Where: $ILGPU_STYLE_KERNEL_CACHE, else the user's cache folder's <c>ptx</c> (<see cref="UserCache"/>);
/// <c>off</c> turns it off (ILGPU's own loaders then compile every kernel, as on other devices).</para>
/// </summary>
public sealed class PtxKernelCache(string directory)
{
    /// <summary>The environment variable naming the folder, or <c>off</c>.</summary>
    public const string EnvironmentVariable = "ILGPU_STYLE_KERNEL_CACHE";

    private const string Format = "ilgpu-style PTX kernel v1";

    /// <summary>Files unused (neither written nor read) this many days are removed.</summary>
    public const int UnusedDays = 30;

    /// <summary>At most this many files are kept (a build of the library loads 30–130 kernel variants on a GPU).</summary>
    public const int MaxFiles = 1000;

    private int pruned;

    /// <summary>The folder of the files.</summary>
    public string Directory { get; } = directory;

    /// <summary>Whether the first write of a process removes long-unused files (not in a folder <see cref="ShippedPtx.Precompile"/> fills).</summary>
    public bool Prunes { get; init; } = true;

    /// <summary>
    /// The PTX made ahead of time for this build (<see cref="ShippedPtx"/>), read when this folder misses a variant:
    /// null where none was shipped.
    /// </summary>
    public ShippedPtx? Shipped { get; init; }

    /// <summary>The cache the environment asks for: null when $ILGPU_STYLE_KERNEL_CACHE is <c>off</c>.</summary>
    public static PtxKernelCache? FromEnvironment(Func<string, string?> getEnv)
    {
        var value = getEnv(EnvironmentVariable);
        if (string.Equals(value?.Trim(), "off", StringComparison.OrdinalIgnoreCase)) return null;
        return new PtxKernelCache(string.IsNullOrWhiteSpace(value)
            ? Path.Combine(UserCache.Directory(getEnv), "ptx")
            : Path.GetFullPath(value))
        {
            Shipped = ShippedPtx.FromEnvironment(getEnv, AppContext.BaseDirectory),
        };
    }

    /// <summary>One line for `devices --verbose`: where CUDA kernels' PTX is kept and how many kernels it holds, or that it is off.</summary>
    public static string Describe(Func<string, string?> getEnv) =>
        FromEnvironment(getEnv) is { } cache
            ? $"kernel cache: {cache.Directory} ({(System.IO.Directory.Exists(cache.Directory) ? System.IO.Directory.GetFiles(cache.Directory, "*.ptxk").Length : 0)} kernels; {EnvironmentVariable}=DIR|off)"
            : $"kernel cache: off ({EnvironmentVariable}=off): ILGPU compiles every kernel in each run";

    // ILGPU 1.5.3 builds a PTXCompiledKernel with an internal constructor (context, entry point, kernel info, PTX). Checked
    // when first used, so another ILGPU fails with this message.
    private static readonly Lazy<ConstructorInfo> PtxKernelConstructor = new(() =>
        typeof(PTXCompiledKernel).GetConstructors(BindingFlags.Instance | BindingFlags.NonPublic)
            .SingleOrDefault(c => c.GetParameters() is [{ } a, { } b, _, { } d] &&
                a.ParameterType == typeof(Context) && b.ParameterType == typeof(EntryPoint) && d.ParameterType == typeof(string))
        ?? throw new InvalidOperationException(
            $"ILGPU {typeof(PTXCompiledKernel).Assembly.GetName().Version}: no PTXCompiledKernel(Context, EntryPoint, KernelInfo, string) constructor (written for ILGPU 1.5.3)"));

    // CompiledKernel.EntryPoint (internal in ILGPU 1.5.3): the shared memory the stored kernel's entry point must declare.
    private static readonly Lazy<PropertyInfo> CompiledEntryPoint = new(() =>
        typeof(CompiledKernel).GetProperty("EntryPoint", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
        ?? throw new InvalidOperationException(
            $"ILGPU {typeof(CompiledKernel).Assembly.GetName().Version}: CompiledKernel has no EntryPoint property (written for ILGPU 1.5.3)"));

    /// <summary>The entry point ILGPU's loader reads from <paramref name="kernel"/> (internal in ILGPU 1.5.3).</summary>
    public static EntryPoint EntryPointOf(CompiledKernel kernel) =>
        CompiledEntryPoint.Value.GetValue(kernel) as EntryPoint
        ?? throw new InvalidOperationException($"{kernel.Name}: ILGPU's compiled kernel has no entry point");

    /// <summary>
    /// <paramref name="method"/> as <see cref="SpecializedCompilation.Compile(Backend, MethodInfo, object[])"/> compiles it
    /// for <paramref name="backend"/> (its PTX through <see cref="PtxDepots.Rewrite"/> when <paramref name="rewriteDepots"/>),
    /// read from this cache when an earlier run compiled it (<paramref name="fromDisk"/>), else compiled and stored.
    /// </summary>
    public PTXCompiledKernel Compile(PTXBackend backend, MethodInfo method, object[] specialized, bool rewriteDepots, out bool fromDisk) =>
        Compile(backend, method, specialized, rewriteDepots, readDisk: true, out fromDisk);

    /// <summary>
    /// <see cref="Compile(PTXBackend, MethodInfo, object[], bool, out bool)"/>; <paramref name="readDisk"/> false compiles
    /// without looking at either folder (a kernel read from disk that the driver rejected), and stores the result.
    /// </summary>
    private PTXCompiledKernel Compile(PTXBackend backend, MethodInfo method, object[] specialized, bool rewriteDepots, bool readDisk, out bool fromDisk)
    {
        long start = Stopwatch.GetTimestamp();
        var hints = LaunchBoundsAttribute.Of(method);
        var key = Key(backend, method, specialized, hints, rewriteDepots);
        var path = PathOf(key);
        if (readDisk && Find(backend, method, specialized, hints, rewriteDepots, key, path) is var (stored, shipped))
        {
            fromDisk = true;
            if (shipped) Count(ref shippedCount, ref shippedTicks, start);
            else
            {
                MarkUsed(path);
                Count(ref readCount, ref readTicks, start);
            }
            return Construct(backend.Context, method, hints, stored.SharedStatic, stored.SharedDynamic, stored.Ptx);
        }
        fromDisk = false;
        var compiled = (PTXCompiledKernel)SpecializedCompilation.Compile(backend, method, specialized, hints);
        if (rewriteDepots) RewrittenPtxKernels.RewriteDepots(compiled);
        var shared = EntryPointOf(compiled).SharedMemory;
        Write(path, new Stored(key, shared.StaticSize, shared.HasDynamicMemory, compiled.PTXAssembly));
        Count(ref compiledCount, ref compiledTicks, start);
        compiledNames.Enqueue(VariantName(method, specialized));
        return compiled;
    }

    /// <summary>
    /// The PTX of a variant as a load would read it from disk (this folder, else <see cref="Shipped"/>'s), or null where
    /// only ILGPU's compiler could make it. Reads only: nothing is counted or marked.
    /// </summary>
    public string? StoredPtx(PTXBackend backend, MethodInfo method, object[] specialized, bool rewriteDepots)
    {
        var hints = LaunchBoundsAttribute.Of(method);
        var key = Key(backend, method, specialized, hints, rewriteDepots);
        return Find(backend, method, specialized, hints, rewriteDepots, key, PathOf(key))?.Stored.Ptx;
    }

    /// <summary>
    /// Where a load finds a variant on disk: this folder's file (<paramref name="path"/>, of <paramref name="key"/>), else
    /// <see cref="Shipped"/>'s (<see cref="ShippedPtx.Find"/>); null where only ILGPU's compiler could make it.
    /// </summary>
    private (Stored Stored, bool Shipped)? Find(PTXBackend backend, MethodInfo method, object[] specialized, KernelSpecialization hints,
        bool rewriteDepots, string key, string path) =>
        TryRead(path, key) is { } stored ? (stored, false)
        : Shipped?.Find(backend, method, specialized, hints, rewriteDepots) is { } made ? (made, true)
        : null;

    /// <summary>The file of <paramref name="key"/> in <paramref name="directory"/> as written there, or null.</summary>
    internal static Stored? Read(string directory, string key) => TryRead(PathIn(directory, key), key);

    /// <summary>The environment variable that turns <see cref="Prewarm(CudaAccelerator, IEnumerable{CudaKernelVariants.Variant}, int)"/> off (<c>off</c>).</summary>
    public const string PrewarmVariable = "ILGPU_STYLE_PREWARM";

    /// <summary>
    /// Has the CUDA driver compile the PTX of <paramref name="variants"/> that is on disk (<see cref="StoredPtx"/>) to
    /// <paramref name="cuda"/>'s machine code, on up to <paramref name="threads"/> threads at once, and unloads each module
    /// again: the driver keeps what its JIT made in its own cache (~/.nv/ComputeCache, $CUDA_CACHE_PATH), so the loads that
    /// follow — one at a time, as kernels are first launched — find it there. For a run that is about to load many big
    /// kernels on a machine whose driver cache is empty (a first tensor-core tuning: ptxas 12.4 takes ~0.5 s for each
    /// tensor-core kernel on one core). Each module is loaded as ILGPU's loader loads it (CudaAPI.LoadModule with its error log).
    /// Best effort: variants only ILGPU could compile are left to it, and a driver error stops the rest (the loads then
    /// compile as they would have). Returns how many the driver compiled, the seconds, and the first error, if any.
    /// </summary>
    public (int Kernels, double Seconds, string? Error) Prewarm(CudaAccelerator cuda, IEnumerable<CudaKernelVariants.Variant> variants, int threads) =>
        Prewarm(cuda.Backend, variants, threads, ptx =>
        {
            var api = CudaAPI.CurrentAPI;
            var error = api.SetCurrentContext(cuda.NativePtr);
            if (error != CudaError.CUDA_SUCCESS) return $"{error} making the context current";
            error = api.LoadModule(out var module, ptx, out string? log);
            if (error != CudaError.CUDA_SUCCESS) return $"{error}{(string.IsNullOrWhiteSpace(log) ? "" : ": " + log.Trim())}";
            api.DestroyModule(module);
            return null;
        });

    /// <summary>
    /// <see cref="Prewarm(CudaAccelerator, IEnumerable{CudaKernelVariants.Variant}, int)"/> with the driver's step given:
    /// <paramref name="jit"/> loads one PTX text and returns null or the error (tests pass their own).
    /// </summary>
    public (int Kernels, double Seconds, string? Error) Prewarm(PTXBackend backend, IEnumerable<CudaKernelVariants.Variant> variants, int threads,
        Func<string, string?> jit)
    {
        long start = Stopwatch.GetTimestamp();
        var texts = variants.Select(v => StoredPtx(backend, v.Method, v.Specialized, v.RewriteDepots)).OfType<string>().Distinct().ToList();
        int done = 0;
        string? firstError = null;
        Parallel.ForEach(texts, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, (ptx, state) =>
        {
            if (Volatile.Read(ref firstError) is not null) return;
            if (jit(ptx) is { } error)
            {
                Interlocked.CompareExchange(ref firstError, error, null);
                state.Stop();
                return;
            }
            Interlocked.Increment(ref done);
        });
        return (done, Stopwatch.GetElapsedTime(start).TotalSeconds, firstError);
    }

    // What Compile did in this process: kernels compiled by ILGPU (and written), read from this folder and read from the
    // shipped one, with their time; the names of the compiled ones.
    private int compiledCount, readCount, shippedCount;
    private long compiledTicks, readTicks, shippedTicks;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> compiledNames = new();

    /// <summary>Kernel variants read from <see cref="Shipped"/>'s folder in this process.</summary>
    public int ShippedCount => Volatile.Read(ref shippedCount);

    /// <summary>The variants ILGPU compiled in this process, in order: "Conv2d.TensorCore3x3Kernel [kind=tf32,…]".</summary>
    public IReadOnlyList<string> CompiledNames => [.. compiledNames];

    /// <summary>A variant as <see cref="CompiledNames"/> lists it: the kernel and its specialized values.</summary>
    public static string VariantName(MethodInfo method, object[] specialized)
    {
        var values = specialized.Select(v => v.GetType().GetProperty("Value")?.GetValue(v)?.ToString() ?? v.ToString());
        return $"{method.DeclaringType?.Name}.{method.Name}" + (specialized.Length > 0 ? $" [{string.Join("; ", values)}]" : "");
    }

    private static void Count(ref int count, ref long ticks, long start)
    {
        Interlocked.Increment(ref count);
        Interlocked.Add(ref ticks, Stopwatch.GetTimestamp() - start);
    }

    /// <summary>Kernel variants ILGPU compiled through this cache in this process (each also written to disk).</summary>
    public int CompiledCount => Volatile.Read(ref compiledCount);

    /// <summary>Kernel variants read from disk in this process.</summary>
    public int ReadCount => Volatile.Read(ref readCount);

    /// <summary>
    /// One line for the end of a CUDA run: how many kernel variants ILGPU compiled and how long that took, how many came
    /// from earlier runs' PTX — the part of a first run's start-up that the cache saves later runs (issue #11 counts
    /// compilation in a stylization's 10 s) —, how long the driver took to load them (its JIT of the PTX to machine code
    /// included, unless its own cache held them), how many came from the shipped folder and which it lacked.
    /// </summary>
    public string Summary()
    {
        static double Seconds(ref long ticks) => Stopwatch.GetElapsedTime(0, Volatile.Read(ref ticks)).TotalSeconds;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"kernels: {CompiledCount} compiled by ILGPU in {Seconds(ref compiledTicks):F1} s, " +
            $"{ReadCount} read from the PTX cache in {Seconds(ref readTicks):F1} s ({Directory})");
        if (LoadedCount > 0)
            line += string.Create(CultureInfo.InvariantCulture, $", {LoadedCount} loaded in {Seconds(ref loadedTicks):F1} s (the driver's JIT included)");
        if (Shipped is not { } shipped) return line;
        line += string.Create(CultureInfo.InvariantCulture, $", {ShippedCount} shipped in {Seconds(ref shippedTicks):F1} s ({shipped.Directory})");
        // What the shipped folder lacked, so that CudaKernelVariants can list it (the first few).
        var names = CompiledNames;
        return names.Count == 0 ? line : line + $"; not shipped: {string.Join(", ", names.Take(6))}{(names.Count > 6 ? $" and {names.Count - 6} more" : "")}";
    }

    /// <summary>
    /// <paramref name="method"/> for <paramref name="cuda"/> through <see cref="Compile"/>, then loaded by
    /// <paramref name="load"/>. When the driver rejects a kernel read from disk, the file goes and the kernel is compiled
    /// again (a kernel ILGPU just compiled fails as it would without the cache).
    /// </summary>
    public Kernel Load(CudaAccelerator cuda, MethodInfo method, object[] specialized, bool rewriteDepots, Func<CompiledKernel, Kernel> load)
    {
        var compiled = Compile(cuda.Backend, method, specialized, rewriteDepots, out bool fromDisk);
        long start = Stopwatch.GetTimestamp();
        try
        {
            return load(compiled);
        }
        catch (Exception e) when (fromDisk && e is CudaException or InvalidOperationException or ArgumentException)
        {
            Forget(cuda.Backend, method, specialized, rewriteDepots);
            return load(Compile(cuda.Backend, method, specialized, rewriteDepots, readDisk: false, out _));
        }
        finally
        {
            Count(ref loadedCount, ref loadedTicks, start);
        }
    }

    // The driver's part: loading each kernel's PTX (cuModuleLoadDataEx, which JIT-compiles it to the GPU's machine code
    // unless the driver's own cache, ~/.nv/ComputeCache or $CUDA_CACHE_PATH, holds it).
    private int loadedCount;
    private long loadedTicks;

    /// <summary>Kernels the driver loaded through <see cref="Load"/> in this process.</summary>
    public int LoadedCount => Volatile.Read(ref loadedCount);

    /// <summary>Removes the file of this variant (the driver rejected what it held); the next run compiles it again.</summary>
    public void Forget(PTXBackend backend, MethodInfo method, object[] specialized, bool rewriteDepots)
    {
        try
        {
            File.Delete(PathOf(Key(backend, method, specialized, LaunchBoundsAttribute.Of(method), rewriteDepots)));
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>The file of a key: the first 128 bits of its SHA-256, in hex.</summary>
    public string PathOf(string key) => PathIn(Directory, key);

    /// <summary>The file of a key in <paramref name="directory"/>.</summary>
    private static string PathIn(string directory, string key) =>
        Path.Combine(directory, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..32] + ".ptxk");

    /// <summary>Everything that shapes a variant's PTX, one item a line.</summary>
    public static string Key(PTXBackend backend, MethodInfo method, object[] specialized, KernelSpecialization hints, bool rewriteDepots,
        CudaInstructionSet? instructionSet = null)
    {
        var p = backend.Context.Properties;
        var values = specialized.Select(v => v.GetType().GetProperty("Value")?.GetValue(v) is { } inner
            ? $"{inner.GetType().FullName}={inner}" : $"{v.GetType().FullName}={v}");
        return string.Join('\n',
            Format,
            $"ILGPU {typeof(Context).Assembly.GetName().Version}",
            $"module {method.Module.ModuleVersionId} {method.Module.Name}",
            $"method {method.MetadataToken:x8} {method.DeclaringType?.FullName}.{method.Name}",
            $"specialized {string.Join("; ", values)}",
            $"target {backend.Architecture} {instructionSet ?? backend.InstructionSet}",
            $"context O={p.OptimizationLevel} math={p.MathMode} inlining={p.InliningMode} debug={p.DebugSymbolsMode} " +
            $"assertions={p.EnableAssertions} io={p.EnableIOOperations} statics={p.StaticFieldMode} arrays={p.ArrayMode}",
            $"bounds {hints.MaxNumThreadsPerGroup?.ToString() ?? "-"} {hints.MinNumGroupsPerMultiprocessor?.ToString() ?? "-"}",
            $"depots {(rewriteDepots ? "rewritten" : "as generated")}");
    }

    /// <summary>What a file holds.</summary>
    internal sealed record Stored(string Key, int SharedStatic, bool SharedDynamic, string Ptx);

    private static Stored? TryRead(string path, string key)
    {
        try
        {
            if (!File.Exists(path)) return null;
            var stored = JsonSerializer.Deserialize<Stored>(File.ReadAllText(path));
            return stored is not null && stored.Key == key && stored.SharedStatic >= 0 &&
                   stored.Ptx?.Contains(".entry ", StringComparison.Ordinal) == true
                ? stored
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    private void Write(string path, Stored stored)
    {
        // A cache that cannot be written costs the next run its compilation, nothing else.
        string? temp = null;
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            temp = Path.Combine(Directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            File.WriteAllText(temp, JsonSerializer.Serialize(stored));
            File.Move(temp, path, overwrite: true);
            temp = null;
            if (Prunes && Interlocked.Exchange(ref pruned, 1) == 0) Prune(DateTime.UtcNow);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        finally
        {
            if (temp is not null)
            {
                try { File.Delete(temp); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
    }

    private static void MarkUsed(string path)
    {
        try { File.SetLastWriteTimeUtc(path, DateTime.UtcNow); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Removes the files unused since <see cref="UnusedDays"/> before <paramref name="now"/>, then the longest unused past <see cref="MaxFiles"/>.</summary>
    public void Prune(DateTime now)
    {
        try
        {
            var files = new DirectoryInfo(Directory).GetFiles("*.ptxk").OrderByDescending(f => f.LastWriteTimeUtc).ToList();
            for (int i = 0; i < files.Count; i++)
            {
                if (i < MaxFiles && now - files[i].LastWriteTimeUtc <= TimeSpan.FromDays(UnusedDays)) continue;
                try { files[i].Delete(); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>The compiled kernel ILGPU's loader takes, from what a file holds (ILGPU's internal constructor).</summary>
    private static PTXCompiledKernel Construct(Context context, MethodInfo method, KernelSpecialization hints, int sharedStatic,
        bool sharedDynamic, string ptx)
    {
        var description = SpecializedCompilation.EntryOf(method);
        var entry = new EntryPoint(description, new SharedMemorySpecification(sharedStatic, sharedDynamic), hints);
        return (PTXCompiledKernel)PtxKernelConstructor.Value.Invoke([context, entry, null, ptx]);
    }
}
