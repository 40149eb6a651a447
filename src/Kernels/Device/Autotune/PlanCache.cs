// Test: tests/IlgpuStyle.Tests/Kernels/AutotunerTests.cs
using System.Text.Json;
using System.Text.Json.Nodes;

namespace IlgpuStyle.Kernels;

/// <summary>What a cached plan was measured on: the device, its driver, and this library's version.</summary>
public readonly record struct TuningKey(string Device, string Driver, string Library)
{
    /// <summary>The key of <paramref name="gpu"/>: kind and name; the OpenCL platform, device and driver versions (PoCL's own version is the driver's) or the CUDA driver version; the assembly version.</summary>
    public static TuningKey For(Gpu gpu)
    {
        string driver = gpu.Accelerator switch
        {
            ILGPU.Runtime.OpenCL.CLAccelerator cl =>
                $"{cl.PlatformName} {cl.PlatformVersion}; {cl.Device.DeviceVersion}; driver {OpenClDeviceQuery.DriverVersion(cl.DeviceId) ?? "unknown"}",
            ILGPU.Runtime.Cuda.CudaAccelerator cuda => $"CUDA driver {cuda.DriverVersion}",
            _ => "none",
        };
        // PoCL compiles for the CPU its device name names (cpu-haswell-… under POCL_KERNELLIB_NAME=avx2 on Debian's
        // "distro" builds, which ignore POCL_LLVM_CPU_NAME), or, on other builds, for POCL_LLVM_CPU_NAME without
        // renaming the device: a plan timed for one target is not the other's.
        if (Environment.GetEnvironmentVariable("POCL_LLVM_CPU_NAME") is { Length: > 0 } target) driver += $"; POCL_LLVM_CPU_NAME={target}";
        var library = typeof(TuningKey).Assembly.GetName().Version?.ToString() ?? "unknown";
        return new TuningKey($"{gpu.Kind} {gpu.Name}", driver, library);
    }
}

/// <summary>
/// The autotuner's choices, kept between runs in one JSON file (by default ($XDG_CACHE_HOME or ~/.cache)/ilgpu-style/
/// tuning-plans.json): an entry per <see cref="TuningKey"/>, mode and precision (FP32's plan, and
/// the tensor-core blocking a --precision tf32|bf16 run tuned: <see cref="Autotuner.ApplyTensorCores"/>), holding the plan in ILGPU_STYLE_TILES syntax and
/// the times measured. An entry of another device, driver or library version is never used; a file that is not
/// valid JSON of this shape, or an entry whose plan does not parse or fit the device, is ignored (and replaced at the
/// next store), never an error. Writes are atomic (a temporary file renamed over the old one).
/// </summary>
public sealed class PlanCache(string path)
{
    public const int Format = 1;

    public string Path { get; } = path;

    /// <summary>($XDG_CACHE_HOME or ~/.cache)/ilgpu-style/tuning-plans.json, or ILGPU_STYLE_TUNING_CACHE when set.</summary>
    public static string DefaultPath =>
        Environment.GetEnvironmentVariable("ILGPU_STYLE_TUNING_CACHE") is { Length: > 0 } explicitPath
            ? explicitPath
            : System.IO.Path.Combine(UserCache.Directory(Environment.GetEnvironmentVariable), "tuning-plans.json");

    /// <summary>
    /// The plan stored for <paramref name="key"/> that satisfies <paramref name="mode"/> (a full tuning also answers a
    /// quick request), parsed over <paramref name="defaults"/> and valid for <paramref name="maxGroupSize"/>; null when
    /// there is none. <paramref name="problem"/> says why the file or a matching entry was ignored.
    /// </summary>
    public TuningPlan? Find(TuningKey key, AutotuneMode mode, TuningPlan defaults, int maxGroupSize, out string? problem,
        Precision precision = Precision.Fp32)
    {
        problem = null;
        var entries = Read(out problem);
        foreach (var e in entries.Where(e => Matches(e, key, precision) && Satisfies(e, mode)).OrderByDescending(e => Mode(e)))
        {
            try
            {
                var plan = TuningPlan.Parse(Text(e, "plan") ?? throw new ArgumentException("the entry has no plan"), defaults);
                plan.Validate(maxGroupSize);
                return plan;
            }
            catch (ArgumentException x)
            {
                problem = $"ignored a cached plan in {Path}: {x.Message}";
            }
        }
        return null;
    }

    /// <summary>Stores (or replaces) the entry for <paramref name="key"/>, <paramref name="mode"/> and <paramref name="precision"/>.</summary>
    public void Store(TuningKey key, AutotuneMode mode, TuningPlan plan, double milliseconds, double defaultMilliseconds,
        Precision precision = Precision.Fp32)
    {
        var kept = Read(out _).Where(e => !(Matches(e, key, precision) && Mode(e) == mode)).Select(e => e.DeepClone()).ToList();
        kept.Add(new JsonObject
        {
            ["device"] = key.Device,
            ["driver"] = key.Driver,
            ["library"] = key.Library,
            ["mode"] = mode.ToString().ToLowerInvariant(),
            ["precision"] = Precisions.Name(precision),
            ["plan"] = plan.ToString(),
            ["milliseconds"] = Math.Round(milliseconds, 3),
            ["default_milliseconds"] = Math.Round(defaultMilliseconds, 3),
            ["measured"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
        });
        var document = new JsonObject { ["format"] = Format, ["entries"] = new JsonArray([.. kept]) };
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
        Directory.CreateDirectory(dir);
        var temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(Path)}.{Environment.ProcessId}.tmp");
        File.WriteAllText(temp, document.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        File.Move(temp, Path, overwrite: true);
    }

    /// <summary>Every entry of the file (none when it is absent or not valid).</summary>
    public IReadOnlyList<JsonObject> Read(out string? problem)
    {
        problem = null;
        if (!File.Exists(Path)) return [];
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(Path)) as JsonObject;
            if (root is null || (int?)root["format"] != Format || root["entries"] is not JsonArray array)
                throw new JsonException($"not a format-{Format} tuning cache");
            return array.OfType<JsonObject>().ToList();
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or InvalidOperationException or FormatException)
        {
            problem = $"ignored the tuning cache {Path}: {e.Message}";
            return [];
        }
    }

    /// <summary>Same device, driver, library and precision (an entry without one, as before the tensor-core tuning, is FP32's).</summary>
    private static bool Matches(JsonObject e, TuningKey key, Precision precision) =>
        Text(e, "device") == key.Device && Text(e, "driver") == key.Driver && Text(e, "library") == key.Library
        && (Text(e, "precision") ?? Precisions.Name(Precision.Fp32)) == Precisions.Name(precision);

    private static string? Text(JsonObject e, string name) => e[name] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    private static AutotuneMode? Mode(JsonObject e) => Text(e, "mode") switch
    {
        "quick" => AutotuneMode.Quick,
        "full" => AutotuneMode.Full,
        _ => null,
    };

    private static bool Satisfies(JsonObject e, AutotuneMode wanted) =>
        Mode(e) is { } m && (m == wanted || m == AutotuneMode.Full);
}
