using Xunit;

namespace IlgpuStyle.Tests;

/// <summary>
/// The real development data (VGG19 weights, test images) that lives in a folder `shared/` next to the repository
/// root (e.g. /work/shared beside /work/main) and is never committed. Found by walking up from the test binary's
/// directory; $ILGPU_STYLE_SHARED overrides. Tests that need it call <see cref="RequireOrSkip"/>: without the data
/// they are skipped with a loud reason — except under CI=true, where missing data is a failure.
/// </summary>
public static class SharedData
{
    private static readonly Lazy<string?> RootDir = new(FindRoot);

    /// <summary>The shared folder, or null when it cannot be found.</summary>
    public static string? Root => RootDir.Value;

    /// <summary>shared/vgg19 (TF.js VGG19 weights, see its README.md), or null.</summary>
    public static string? Vgg19Dir => Existing("vgg19");

    /// <summary>shared/images (content and style images), or null.</summary>
    public static string? ImagesDir => Existing("images");

    /// <summary>Skips the calling test (fails it under CI=true) unless shared/{<paramref name="subfolder"/>} exists; returns its path.</summary>
    public static string RequireOrSkip(string subfolder = "vgg19")
    {
        var dir = Existing(subfolder);
        if (dir is not null) return dir;
        var why = $"*** REAL-DATA TEST NOT RUN: no shared/{subfolder} folder found (looked upward from {AppContext.BaseDirectory}; set ILGPU_STYLE_SHARED) ***";
        if (Environment.GetEnvironmentVariable("CI") == "true")
            throw new InvalidOperationException("CI=true but the shared data is missing: " + why);
        Assert.Skip(why);
        return null!;
    }

    private static string? Existing(string subfolder)
    {
        if (Root is null) return null;
        var dir = Path.Combine(Root, subfolder);
        return Directory.Exists(dir) ? dir : null;
    }

    private static string? FindRoot()
    {
        var env = Environment.GetEnvironmentVariable("ILGPU_STYLE_SHARED");
        if (!string.IsNullOrEmpty(env)) return Directory.Exists(env) ? Path.GetFullPath(env) : null;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "shared");
            if (Directory.Exists(Path.Combine(candidate, "vgg19"))) return candidate;
        }
        return null;
    }
}
