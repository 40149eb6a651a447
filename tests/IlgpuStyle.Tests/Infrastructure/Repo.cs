namespace IlgpuStyle.Tests;

/// <summary>The repository root (the folder holding IlgpuStyle.sln), found by walking up from the test binary.</summary>
public static class Repo
{
    private static readonly Lazy<string> RootDir = new(() =>
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (System.IO.File.Exists(Path.Combine(d.FullName, "IlgpuStyle.sln"))) return d.FullName;
        throw new InvalidOperationException($"IlgpuStyle.sln not found above {AppContext.BaseDirectory}");
    });

    public static string Root => RootDir.Value;

    public static string File(params string[] parts) => Path.Combine([Root, .. parts]);
}
