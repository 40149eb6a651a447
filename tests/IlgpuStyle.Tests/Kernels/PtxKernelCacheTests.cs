using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// <see cref="PtxKernelCache"/> offline (no GPU: ILGPU's PTX backend runs anywhere): a kernel read back from the cache is
/// what ILGPU compiled — the same PTX, and the entry point ILGPU's CUDA loader reads (method, parameters, index type,
/// shared memory, launch bounds) — for an implicitly grouped kernel, a specialized one with static shared memory and
/// launch bounds, and a cp.async tensor-core kernel stored with its depots rewritten; each input of the key gives
/// another file; a damaged or foreign file is compiled again. On CUDA every kernel test loads through the cache
/// (<see cref="Gpu.Kernel{TDelegate}"/>), and <see cref="KernelLaunchersTests"/> launches kernels read back from disk.
/// </summary>
public class PtxKernelCacheTests(ITestOutputHelper log)
{
    private static MethodInfo LibraryKernel(string type, string name) =>
        typeof(Gpu).Assembly.GetTypes().Where(t => t.Name == type)
            .Select(t => t.GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public))
            .Single(m => m is not null)!;

    private static PTXBackend Backend(CudaArchitecture architecture) =>
        // DeviceCatalog's context, as PtxasTests: the library's intrinsics are registered there.
        new(Devices.Get("cpu").Accelerator.Context, architecture, CudaInstructionSet.ISA_84, null!);

    public static TheoryData<string, string, int, bool> Variants() => new()
    {
        // An implicitly grouped element-wise kernel; Gram's shared-memory SGEMM (static shared memory, launch bounds,
        // a specialized group side); the tensor-core convolution with cp.async stages (depots rewritten).
        { "Elementwise", "AxpyKernel", -1, false },
        { "Gram", "ForwardSharedKernel", 16, false },
        { "Conv2d", "TensorCore3x3Kernel", 2, true },
    };

    private static object[] Values(MethodInfo method, int value) => value < 0 ? []
        : method.Name == "TensorCore3x3Kernel"
            ? [SpecializedValue.New(new ConvTiles(ConvKernelKind.TensorCoreTf32, 2, 2, 8) { AsyncBuffers = value })]
            : [SpecializedValue.New(value)];

    [Theory]
    [MemberData(nameof(Variants))]
    public void AKernelReadBackIsTheKernelIlgpuCompiled(string type, string name, int value, bool rewriteDepots)
    {
        var method = LibraryKernel(type, name);
        using var dir = new TempDir();
        using var backend = Backend(CudaArchitecture.SM_90);
        var specialized = Values(method, value);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var first = new PtxKernelCache(dir.Path);
        var compiled = first.Compile(backend, method, specialized, rewriteDepots, out bool firstFromDisk);
        var compileMs = clock.Elapsed.TotalMilliseconds;
        Assert.False(firstFromDisk, "an empty cache read a kernel");
        Assert.Single(Directory.GetFiles(dir.Path, "*.ptxk"));
        clock.Restart();
        var second = new PtxKernelCache(dir.Path);
        var read = second.Compile(backend, method, specialized, rewriteDepots, out bool fromDisk);
        log.WriteLine($"{type}.{name}: compiled and stored in {compileMs:F1} ms, read back in {clock.Elapsed.TotalMilliseconds:F1} ms " +
                      $"({new FileInfo(Directory.GetFiles(dir.Path, "*.ptxk")[0]).Length / 1024.0:F1} KiB)");
        Assert.True(fromDisk, "the second run compiled again");
        // Each cache counts what it did (the line a CUDA stylization ends with).
        Assert.Equal((1, 0), (first.CompiledCount, first.ReadCount));
        Assert.Equal((0, 1), (second.CompiledCount, second.ReadCount));
        Assert.StartsWith("kernels: 1 compiled by ILGPU in ", first.Summary());
        Assert.Contains(", 0 read from the PTX cache in ", first.Summary());
        Assert.StartsWith("kernels: 0 compiled by ILGPU in 0.0 s, 1 read from the PTX cache in ", second.Summary());

        Assert.Equal(compiled.PTXAssembly, read.PTXAssembly);
        Assert.Equal(rewriteDepots, compiled.PTXAssembly.Contains("cp.async", StringComparison.Ordinal));
        if (rewriteDepots) Assert.DoesNotContain("__local_depot", read.PTXAssembly);
        Assert.Same(compiled.Context, read.Context);
        Assert.Equal(compiled.SourceMethod, read.SourceMethod);
        Assert.Equal(compiled.Name, read.Name);
        Assert.Equal(compiled.IndexType, read.IndexType);
        Assert.Equal(compiled.NumParameters, read.NumParameters);
        Assert.Equal(compiled.Specialization.MaxNumThreadsPerGroup, read.Specialization.MaxNumThreadsPerGroup);
        Assert.Equal(compiled.Specialization.MinNumGroupsPerMultiprocessor, read.Specialization.MinNumGroupsPerMultiprocessor);
        var (a, b) = (PtxKernelCache.EntryPointOf(compiled), PtxKernelCache.EntryPointOf(read));
        Assert.Equal(a.SharedMemory.StaticSize, b.SharedMemory.StaticSize);
        Assert.Equal(a.SharedMemory.HasDynamicMemory, b.SharedMemory.HasDynamicMemory);
        Assert.Equal(a.IsExplicitlyGrouped, b.IsExplicitlyGrouped);
        Assert.Equal(a.KernelIndexType, b.KernelIndexType);
        Assert.Equal(a.HasSpecializedParameters, b.HasSpecializedParameters);
        Assert.Equal(a.Parameters.ParameterTypes, b.Parameters.ParameterTypes);
        if (name == "ForwardSharedKernel")
        {
            Assert.True(b.SharedMemory.StaticSize > 0, "the shared SGEMM declares no shared memory");
            Assert.Equal(LaunchBoundsAttribute.Of(method).MaxNumThreadsPerGroup, read.Specialization.MaxNumThreadsPerGroup);
        }
    }

    [Fact]
    public void EachInputOfTheKeyGivesAnotherFile()
    {
        var axpy = LibraryKernel("Elementwise", "AxpyKernel");
        var gram = LibraryKernel("Gram", "ForwardSharedKernel");
        using var sm80 = Backend(CudaArchitecture.SM_80);
        using var sm90 = Backend(CudaArchitecture.SM_90);
        using var isa = new PTXBackend(Devices.Get("cpu").Accelerator.Context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_83, null!);
        var cache = new PtxKernelCache("/nonexistent");
        string PathOf(PTXBackend backend, MethodInfo m, object[] values, bool rewrite) =>
            cache.PathOf(PtxKernelCache.Key(backend, m, values, LaunchBoundsAttribute.Of(m), rewrite));

        var paths = new[]
        {
            PathOf(sm90, gram, [SpecializedValue.New(16)], false),
            PathOf(sm90, gram, [SpecializedValue.New(8)], false),   // another specialized value
            PathOf(sm80, gram, [SpecializedValue.New(16)], false),  // another architecture
            PathOf(isa, gram, [SpecializedValue.New(16)], false),   // another PTX ISA
            PathOf(sm90, gram, [SpecializedValue.New(16)], true),   // depots rewritten
            PathOf(sm90, axpy, [], false),                          // another kernel
        };
        Assert.Equal(paths.Length, paths.Distinct().Count());
        Assert.Equal(paths[0], PathOf(sm90, gram, [SpecializedValue.New(16)], false));
        // The build of the library is in the key: a rebuilt kernel is never read from an older build's file.
        var key = PtxKernelCache.Key(sm90, axpy, [], default, false);
        Assert.Contains(axpy.Module.ModuleVersionId.ToString(), key);
        Assert.Contains(typeof(Context).Assembly.GetName().Version!.ToString(), key);
    }

    [Fact]
    public void ADamagedOrForeignFileIsCompiledAgainAndReplaced()
    {
        var method = LibraryKernel("Elementwise", "AxpyKernel");
        using var dir = new TempDir();
        using var backend = Backend(CudaArchitecture.SM_90);
        var cache = new PtxKernelCache(dir.Path);
        cache.Compile(backend, method, [], false, out _);
        var file = Assert.Single(Directory.GetFiles(dir.Path));
        var valid = File.ReadAllText(file);

        foreach (var damaged in new[] { "", "{", valid[..(valid.Length / 2)], valid.Replace(".entry ", ".entr_ ", StringComparison.Ordinal),
                     // A whole file of another key at this name (a hash collision): a miss, not another kernel's code.
                     valid.Replace("AxpyKernel", "OtherKernel", StringComparison.Ordinal) })
        {
            File.WriteAllText(file, damaged);
            var again = cache.Compile(backend, method, [], false, out bool fromDisk);
            Assert.False(fromDisk, $"read a damaged file: {damaged[..Math.Min(40, damaged.Length)]}");
            Assert.Contains(".entry Kernel_AxpyKernel(", again.PTXAssembly);
            // Replaced by the new compilation (ILGPU numbers its PTX registers afresh each time: not the first text).
            Assert.Equal(again.PTXAssembly, new PtxKernelCache(dir.Path).Compile(backend, method, [], false, out bool reread).PTXAssembly);
            Assert.True(reread, "the damaged file was not replaced");
        }
        Assert.Single(Directory.GetFiles(dir.Path)); // no temporary file left

        cache.Forget(backend, method, [], false);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void TheEnvironmentNamesTheFolderOrTurnsTheCacheOff()
    {
        Assert.Null(PtxKernelCache.FromEnvironment(n => n == PtxKernelCache.EnvironmentVariable ? "off" : null));
        Assert.Null(PtxKernelCache.FromEnvironment(n => n == PtxKernelCache.EnvironmentVariable ? " OFF " : null));
        Assert.Equal("/tmp/k", PtxKernelCache.FromEnvironment(n => n == PtxKernelCache.EnvironmentVariable ? "/tmp/k" : null)!.Directory);
        Assert.Equal("/x/ilgpu-style/ptx", PtxKernelCache.FromEnvironment(n => n == "XDG_CACHE_HOME" ? "/x" : null)!.Directory);
        Assert.Contains("kernel cache: off", PtxKernelCache.Describe(n => n == PtxKernelCache.EnvironmentVariable ? "off" : null));
        Assert.StartsWith("kernel cache: /nonexistent-ptx (0 kernels;", PtxKernelCache.Describe(n => n == PtxKernelCache.EnvironmentVariable ? "/nonexistent-ptx" : null));
        // Other devices compile in the process, as before.
        Assert.Null(Devices.Get("cpu").KernelCache);
    }

    [Fact]
    public void UnusedFilesAreRemovedAndReadOnesKept()
    {
        var method = LibraryKernel("Elementwise", "AxpyKernel");
        using var dir = new TempDir();
        using var backend = Backend(CudaArchitecture.SM_90);
        var cache = new PtxKernelCache(dir.Path);
        cache.Compile(backend, method, [], false, out _);
        var kept = Assert.Single(Directory.GetFiles(dir.Path));
        var old = DateTime.UtcNow.AddDays(-PtxKernelCache.UnusedDays - 1);
        File.SetLastWriteTimeUtc(kept, old);
        // Another build's files, unused for longer than the limit, and one used yesterday.
        var stale = Path.Combine(dir.Path, "0123456789abcdef0123456789abcdef.ptxk");
        var recent = Path.Combine(dir.Path, "fedcba9876543210fedcba9876543210.ptxk");
        File.WriteAllText(stale, "{}");
        File.WriteAllText(recent, "{}");
        File.SetLastWriteTimeUtc(stale, old);
        File.SetLastWriteTimeUtc(recent, DateTime.UtcNow.AddDays(-1));

        new PtxKernelCache(dir.Path).Compile(backend, method, [], false, out bool fromDisk); // a read marks the file used
        Assert.True(fromDisk);
        Assert.True(File.GetLastWriteTimeUtc(kept) > old.AddDays(1), "reading did not mark the file used");
        cache.Prune(DateTime.UtcNow);
        Assert.Equal(new[] { kept, recent }.Order(), Directory.GetFiles(dir.Path).Order());
        // Past MaxFiles the longest unused go.
        for (int i = 0; i < PtxKernelCache.MaxFiles; i++)
        {
            var f = Path.Combine(dir.Path, $"{i:x32}.ptxk");
            File.WriteAllText(f, "{}");
            File.SetLastWriteTimeUtc(f, DateTime.UtcNow.AddMinutes(-2 - i)); // all newer than `recent`
        }
        cache.Prune(DateTime.UtcNow);
        Assert.Equal(PtxKernelCache.MaxFiles, Directory.GetFiles(dir.Path).Length);
        Assert.True(File.Exists(kept) && File.Exists(Path.Combine(dir.Path, $"{0:x32}.ptxk")), "a recently used file was removed");
        Assert.False(File.Exists(recent), "the longest unused file past the limit was kept");
    }

    [Fact]
    public void AnUnwritableFolderCostsOnlyTheNextRunsCompilation()
    {
        var method = LibraryKernel("Elementwise", "AxpyKernel");
        using var dir = new TempDir();
        var blocked = Path.Combine(dir.Path, "file-not-folder");
        File.WriteAllText(blocked, "");
        using var backend = Backend(CudaArchitecture.SM_90);
        var compiled = new PtxKernelCache(blocked).Compile(backend, method, [], false, out bool fromDisk);
        Assert.False(fromDisk);
        Assert.Contains(".entry ", compiled.PTXAssembly);
    }
}
