namespace IlgpuStyle.Cli.Preview;

/// <summary>The --preview page (preview.html, embedded in the assembly): self-contained HTML, CSS and JavaScript, no
/// external resources.</summary>
public static class PreviewPage
{
    private static readonly Lazy<string> Text = new(() =>
    {
        using var stream = typeof(PreviewPage).Assembly.GetManifestResourceStream("IlgpuStyle.Cli.Preview.preview.html")
            ?? throw new InvalidOperationException("preview.html is not embedded in the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    public static string Html => Text.Value;
}
