using System.CommandLine;
using IlgpuStyle.Cli.Commands;

namespace IlgpuStyle.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        HugePagesRestart.RestartIfUseful();
        var root = new RootCommand("ilgpu-style: neural style transfer (Gatys et al.) on ILGPU — CUDA, OpenCL or CPU. " +
                                   "crowsonkb/style-transfer-pytorch's command line runs as `ilgpu-style style_transfer CONTENT STYLE [its options]` (--help lists them).");
        root.Subcommands.Add(DevicesCommand.Create());
        root.Subcommands.Add(StylizeCommand.Create());
        root.Subcommands.Add(WeightsCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(KernelsCommand.Create());
        if (args.Length == 0) args = ["--help"];   // the commands and what they do, not "Required command was not provided"
        string? note = null;
        try
        {
            // jcjohnson/neural-style's options (stylize -content_image a.jpg …) become ours first; then a long option
            // typed with one dash is refused with its spelling instead of being read as bundled short options.
            // crowsonkb/style-transfer-pytorch's command line (style_transfer content.jpg style.jpg -s 1024 …) is stylize
            // with its defaults and options.
            if (args.Length > 0 && StyleTransferArguments.IsCommand(args[0]))
            {
                if (args.Skip(1).Any(a => a is "-h" or "--help" or "-?"))
                {
                    Console.Out.Write(StyleTransferArguments.Help);
                    return 0;
                }
                var stylize = root.Subcommands.First(c => c.Name == "stylize");
                var crowsonkb = StyleTransferArguments.Translate(args[1..], stylize, NeuralStyleArguments.CpuDevice, ContentSize);
                args = ["stylize", .. crowsonkb.Args];
                note = crowsonkb.Note;
            }
            if (root.Subcommands.FirstOrDefault(c => args.Length > 0 && c.Name == args[0]) is { } command)
            {
                if (command.Name == "stylize")
                {
                    var translation = NeuralStyleArguments.Translate(args[1..], command, NeuralStyleArguments.CpuDevice, Random.Shared);
                    args = [args[0], .. translation.Args];
                    note = translation.Note ?? note;
                    StyleTransferArguments.CheckNotTheirs(args.Skip(1), command);
                }
                LongOptionDashes.Check(command, args.Skip(1));
            }
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return CliErrors.BadInput;
        }
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // The one error convention (CliErrors): one `error: …` line and exit code 2, not System.CommandLine's
            // list of errors followed by the whole help text and exit code 1.
            var command = parse.CommandResult.Command == root ? "ilgpu-style" : $"ilgpu-style {parse.CommandResult.Command.Name}";
            var what = string.Join("; ", parse.Errors.Select(e => e.Message.ReplaceLineEndings(" ").Trim()).Distinct());
            Console.Error.WriteLine($"error: {what} (see `{command} --help`)");
            return CliErrors.BadInput;
        }
        if (note is not null && !args.Contains("--quiet") && !args.Contains("-q")) Console.Error.WriteLine($"note: {note}");
        return parse.Invoke();
    }

    /// <summary>The content image's size, for style_transfer's <c>--end-scale N+</c>; an unreadable image is one line.</summary>
    private static (int Width, int Height) ContentSize(string path)
    {
        try
        {
            var image = Stylize.Imaging.ImageLoader.Load(path);
            return (image.Width, image.Height);
        }
        catch (Stylize.Imaging.ImageLoadException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
