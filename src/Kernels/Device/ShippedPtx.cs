// Test: tests/IlgpuStyle.Tests/Kernels/ShippedPtxTests.cs (a folder written by Precompile is read by a cache with an empty
// user folder — the same PTX, nothing compiled —, only for the architectures it holds and for devices whose ISA is not older;
// the manifest's absence, damage or `off` turn it off)
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuStyle.Kernels;

/// <summary>
/// ILGPU's PTX made ahead of time for one build of the library (`ilgpu-style kernels precompile`), read-only beside the
/// program: a fresh machine's first CUDA run reads its kernels instead of waiting for ILGPU's compiler (seconds a run: the
/// 12 kernels a first TF32 tuning loads took ~8 s on a Zen 5, issue #11 counts them in a stylization's 10 s). The files are
/// <see cref="PtxKernelCache"/>'s, written by it for every <see cref="CudaKernelVariants"/> variant, each architecture and
/// one PTX ISA, with a manifest (<see cref="ManifestName"/>) written last. A device reads them when the folder holds its
/// architecture and its driver takes that ISA (a driver JIT-compiles every older PTX ISA: the files are made for ISA 8.4,
/// CUDA 12.4's, which PtxasTests assembles offline); the key still holds the build, so another build's files never match.
/// <para>Where: $ILGPU_STYLE_SHIPPED_KERNELS, else the program's folder's <c>ptx</c>; <c>off</c> turns it off.</para>
/// </summary>
public sealed class ShippedPtx
{
    /// <summary>The environment variable naming the folder, or <c>off</c>.</summary>
    public const string EnvironmentVariable = "ILGPU_STYLE_SHIPPED_KERNELS";

    /// <summary>The manifest's file name: the folder counts only with it.</summary>
    public const string ManifestName = "shipped.json";

    private const string Format = "ilgpu-style shipped PTX v1";

    /// <summary>The PTX ISA the files are made for by default: CUDA 12.4's (drivers since 12.4 read it; ptxas 12.4 checks it offline).</summary>
    public static readonly CudaInstructionSet DefaultInstructionSet = CudaInstructionSet.ISA_84;

    /// <summary>The architectures made by default: the A100's and the H100's (ILGPU writes the same PTX for both).</summary>
    public static readonly CudaArchitecture[] DefaultArchitectures = [CudaArchitecture.SM_80, CudaArchitecture.SM_90];

    private ShippedPtx(string directory, CudaInstructionSet isa, IReadOnlyList<CudaArchitecture> architectures, int kernels)
    {
        Directory = directory;
        InstructionSet = isa;
        Architectures = architectures;
        Kernels = kernels;
    }

    /// <summary>The folder of the files.</summary>
    public string Directory { get; }

    /// <summary>The PTX ISA every file was made for.</summary>
    public CudaInstructionSet InstructionSet { get; }

    /// <summary>The architectures the folder holds files for.</summary>
    public IReadOnlyList<CudaArchitecture> Architectures { get; }

    /// <summary>Kernel files: each variant once per architecture it runs on (CudaKernelVariants.Variant.RunsOn).</summary>
    public int Kernels { get; }

    /// <summary>Whether a device of <paramref name="backend"/>'s architecture and ISA can load these files.</summary>
    public bool Serves(PTXBackend backend) => Architectures.Contains(backend.Architecture) && InstructionSet <= backend.InstructionSet;

    /// <summary>
    /// The PTX of a variant for a device of <paramref name="backend"/>'s architecture and ISA, as a CUDA run finds it here
    /// (<see cref="PtxKernelCache"/>'s key at this folder's ISA), or null when the folder does not serve the device or lacks
    /// the variant.
    /// </summary>
    public string? Ptx(PTXBackend backend, MethodInfo method, object[] specialized, bool rewriteDepots) =>
        Find(backend, method, specialized, LaunchBoundsAttribute.Of(method), rewriteDepots)?.Ptx;

    /// <summary><see cref="Ptx"/>'s file, whole.</summary>
    internal PtxKernelCache.Stored? Find(PTXBackend backend, MethodInfo method, object[] specialized, KernelSpecialization hints,
        bool rewriteDepots) =>
        Serves(backend) ? PtxKernelCache.Read(Directory, PtxKernelCache.Key(backend, method, specialized, hints, rewriteDepots, InstructionSet)) : null;

    /// <summary>
    /// The folder the environment asks for (<see cref="EnvironmentVariable"/>, else <paramref name="programDirectory"/>'s
    /// <c>ptx</c>), or null when it is <c>off</c> or holds no readable manifest.
    /// </summary>
    public static ShippedPtx? FromEnvironment(Func<string, string?> getEnv, string programDirectory)
    {
        var value = getEnv(EnvironmentVariable)?.Trim();
        if (string.Equals(value, "off", StringComparison.OrdinalIgnoreCase)) return null;
        return Open(string.IsNullOrEmpty(value) ? Path.Combine(programDirectory, "ptx") : Path.GetFullPath(value));
    }

    /// <summary>The folder <paramref name="directory"/> as its manifest describes it, or null without a readable one.</summary>
    public static ShippedPtx? Open(string directory)
    {
        try
        {
            var path = Path.Combine(directory, ManifestName);
            if (!File.Exists(path)) return null;
            var m = JsonSerializer.Deserialize<Manifest>(File.ReadAllText(path));
            if (m is null || m.Format != Format || m.Architectures is null || ParseIsa(m.Isa) is not { } isa) return null;
            var archs = m.Architectures.Select(ParseArchitecture).ToList();
            return archs.Any(a => a is null) ? null : new ShippedPtx(Path.GetFullPath(directory), isa, [.. archs.Select(a => a!.Value)], m.Kernels);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>One line for `devices --verbose`: the folder a CUDA run reads made-ahead PTX from, or why none.</summary>
    public static string Describe(Func<string, string?> getEnv, string programDirectory)
    {
        var value = getEnv(EnvironmentVariable)?.Trim();
        if (string.Equals(value, "off", StringComparison.OrdinalIgnoreCase)) return $"shipped kernels: off ({EnvironmentVariable}=off)";
        var dir = string.IsNullOrEmpty(value) ? Path.Combine(programDirectory, "ptx") : Path.GetFullPath(value);
        return Open(dir) is { } s
            ? $"shipped kernels: {s.Directory} ({s.Kernels} kernels for {string.Join(", ", s.Architectures)}, PTX ISA {s.InstructionSet}; {EnvironmentVariable}=DIR|off)"
            : $"shipped kernels: none in {dir} (`ilgpu-style kernels precompile` makes them; {EnvironmentVariable}=DIR|off)";
    }

    /// <summary>
    /// Writes the PTX of <paramref name="variants"/> for each of <paramref name="architectures"/> at <paramref name="isa"/>
    /// into <paramref name="directory"/> (ILGPU's PTX backend on <paramref name="context"/>, which must be made as
    /// <see cref="DeviceCatalog"/> makes CUDA contexts: the key holds its settings), then the manifest. A variant ILGPU
    /// cannot compile fails the whole. <paramref name="progress"/> hears one line per architecture. Returns the folder.
    /// </summary>
    public static ShippedPtx Precompile(Context context, string directory, IReadOnlyList<CudaArchitecture> architectures, CudaInstructionSet isa,
        IReadOnlyList<CudaKernelVariants.Variant> variants, Action<string>? progress = null)
    {
        if (architectures.Count == 0) throw new ArgumentException("no architecture to precompile for.");
        System.IO.Directory.CreateDirectory(directory);
        // A manifest describes only complete folders: it goes first and comes back last.
        File.Delete(Path.Combine(directory, ManifestName));
        var cache = new PtxKernelCache(directory) { Prunes = false };
        int files = 0;
        foreach (var arch in architectures)
        {
            var clock = Stopwatch.StartNew();
            using var backend = new PTXBackend(context, arch, isa, null!);
            foreach (var v in variants.Where(v => v.RunsOn(arch)))
            {
                files++;
                try
                {
                    cache.Compile(backend, v.Method, v.Specialized, v.RewriteDepots, out _);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    throw new InvalidOperationException($"{v.Name}: ILGPU could not compile it for {arch}: {e.Message}", e);
                }
            }
            progress?.Invoke(string.Create(CultureInfo.InvariantCulture, $"{arch}: {variants.Count(v => v.RunsOn(arch))} kernels in {clock.Elapsed.TotalSeconds:F1} s"));
        }
        var manifest = new Manifest(Format, isa.ToString(), [.. architectures.Select(a => a.ToString())], files,
            $"ILGPU {typeof(Context).Assembly.GetName().Version}", typeof(Gpu).Module.ModuleVersionId.ToString());
        var temp = Path.Combine(directory, $".{ManifestName}.{Environment.ProcessId}.tmp");
        File.WriteAllText(temp, JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(temp, Path.Combine(directory, ManifestName), overwrite: true);
        return Open(directory) ?? throw new InvalidOperationException($"{directory}: the manifest just written cannot be read back");
    }

    /// <summary>"8.4" (as CudaInstructionSet prints itself) or "ISA_84" to the instruction set; null otherwise.</summary>
    public static CudaInstructionSet? ParseIsa(string? text)
    {
        var m = Regex.Match(text ?? "", @"^(?:ISA_)?(\d)\.?(\d)$");
        return m.Success ? new CudaInstructionSet(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)) : null;
    }

    /// <summary>"sm_90", "SM_90" or "9.0" to the architecture; null otherwise.</summary>
    public static CudaArchitecture? ParseArchitecture(string? text)
    {
        var m = Regex.Match(text?.Trim() ?? "", @"^(?:sm_(\d)(\d)|(\d)\.(\d))$", RegexOptions.IgnoreCase);
        if (!m.Success) return null;
        int major = int.Parse(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[3].Value, CultureInfo.InvariantCulture);
        int minor = int.Parse(m.Groups[2].Success ? m.Groups[2].Value : m.Groups[4].Value, CultureInfo.InvariantCulture);
        return new CudaArchitecture(major, minor);
    }

    /// <summary>What <see cref="ManifestName"/> holds (the ILGPU version and the library's build are informative: the files' keys hold them).</summary>
    private sealed record Manifest(string Format, string Isa, string[] Architectures, int Kernels, string Ilgpu, string Build);
}
