using System.CommandLine;

namespace IlgpuStyle.Cli.Preview;

/// <summary>`stylize --preview [--preview-port N]`: the options, and starting the server they ask for.</summary>
public sealed class PreviewOptions
{
    public Option<bool> Preview { get; } = new("--preview")
    {
        Description = "Serve a live view of the run (image, iteration, loss curves) on http://127.0.0.1 (the URL is printed).",
    };

    public Option<int?> Port { get; } = new("--preview-port")
    {
        Description = "Port of the --preview page (default 0: any free port); implies --preview.",
    };

    /// <summary>The server the command line asks for (null: none), serving a new state; prints its URL on stderr
    /// (also with --quiet: without it a free port could not be found). Disposing it lingers for a watching page.</summary>
    public PreviewServer? Start(ParseResult parse, TextWriter stderr)
    {
        int? port = parse.GetValue(Port);
        if (!parse.GetValue(Preview) && port is null) return null;
        var server = PreviewServer.Start(new PreviewState(), port ?? 0);
        stderr.WriteLine($"preview: {server.Url}");
        return server;
    }
}
