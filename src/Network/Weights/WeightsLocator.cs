using IlgpuStyle.Kernels;
namespace IlgpuStyle.Network.Weights;

/// <summary>
/// Finds the VGG19 .ilgw file to use, in this order: the --weights option, $ILGPU_STYLE_WEIGHTS,
/// ./weights/vgg19.ilgw, then the user cache ($XDG_CACHE_HOME or ~/.cache)/ilgpu-style/vgg19.ilgw.
/// An explicitly given path (option or variable) that does not exist is an error, not a reason to look further.
/// </summary>
public static class WeightsLocator
{
    public const string EnvironmentVariable = "ILGPU_STYLE_WEIGHTS";
    public const string FileName = "vgg19.ilgw";

    public const string ConvertCommand =
        "ilgpu-style weights convert --from ../shared/vgg19/keras-tfjs-f32-conv1-3 ../shared/vgg19/keras-tfjs-uint8 --out weights/vgg19.ilgw";
    public const string DownloadCommand = "ilgpu-style weights download";

    private static string HowToMake =>
        $"make one with `{ConvertCommand}` (from the repository root), or `{DownloadCommand}` (needs internet)";

    /// <summary>The weights file to use; throws <see cref="WeightsNotFoundException"/> naming the commands that make one.</summary>
    public static string Find(string? cliPath) =>
        Find(cliPath, Environment.GetEnvironmentVariable, Directory.GetCurrentDirectory());

    /// <summary><see cref="Find(string?)"/> with the environment and working directory given (for tests).</summary>
    public static string Find(string? cliPath, Func<string, string?> getEnv, string currentDirectory)
    {
        if (!string.IsNullOrEmpty(cliPath))
            return File.Exists(cliPath) ? Path.GetFullPath(cliPath)
                : throw new WeightsNotFoundException($"--weights {cliPath}: no such file; {HowToMake}");
        var fromEnv = getEnv(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnv))
            return File.Exists(fromEnv) ? Path.GetFullPath(fromEnv)
                : throw new WeightsNotFoundException($"${EnvironmentVariable}={fromEnv}: no such file; {HowToMake}");
        var local = Path.Combine(currentDirectory, "weights", FileName);
        if (File.Exists(local)) return local;
        var cache = CachePath(getEnv);
        if (File.Exists(cache)) return cache;
        throw new WeightsNotFoundException(
            $"no VGG19 weights found (looked at --weights, ${EnvironmentVariable}, {local}, {cache}); {HowToMake}");
    }

    /// <summary>($XDG_CACHE_HOME or ~/.cache)/ilgpu-style/vgg19.ilgw — where `weights download` puts its result.</summary>
    public static string DefaultCachePath => CachePath(Environment.GetEnvironmentVariable);

    public static string CachePath(Func<string, string?> getEnv) => Path.Combine(UserCache.Directory(getEnv), FileName);
}
