using System.CommandLine;
using System.Globalization;
using ILGPU.Runtime;
using IlgpuStyle.Kernels;
using static IlgpuStyle.Cli.Commands.TranslatedValues;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// jcjohnson/neural-style's command line, read by <c>stylize</c>: neural_style.lua's options as its users type them
/// (<c>-content_image a.jpg -style_image b.jpg -image_size 512 -output_image out.png</c>: one dash, underscores)
/// become IlgpuStyle's before the command line is parsed, with the meaning they had there:
/// <list type="bullet">
/// <item>the same value: images, <c>-image_size</c>, <c>-num_iterations</c> (here per scale), weights of content and
/// style (the defaults 5 and 100 are the same), layers, <c>-pooling</c>, <c>-init</c>, <c>-optimizer</c>,
/// <c>-style_scale</c>, <c>-style_blend_weights</c>, <c>-save_iter</c>, <c>-print_iter</c> (0: quiet),
/// <c>-lbfgs_num_correction</c> (0: the default 100, as torch's optim.lbfgs), <c>-original_colors 0|1</c> (and
/// <c>--original-colors 0|1</c>: their value with this tool's spelling of the flag);</item>
/// <item>converted: <c>-tv_weight</c> relative to neural_style.lua's default 1e-3, which is IlgpuStyle's 1 (its
/// total-variation term is normalized by the image's size, theirs is not); Adam's <c>-learning_rate</c> from
/// Caffe's 0..255 pixel values to this tool's 0..1 (÷ 255), and ignored with L-BFGS as neural_style.lua does;
/// <c>-seed -1</c> (neural_style.lua's default: a random seed) drawn here and printed so the run can be repeated;
/// <c>-gpu N -backend nn|cudnn|clnn</c> to <c>--device cuda:N</c> or <c>opencl:N</c>, <c>-gpu -1</c> (their CPU
/// mode) to an OpenCL CPU device (PoCL) when there is one, else the CPU simulator; <c>-init_image F</c> to
/// <c>--init F</c>;</item>
/// <item>refused in one line: what IlgpuStyle does not have (<c>-normalize_gradients</c>, several GPUs) and a Caffe
/// model file, which <c>weights convert</c> turns into this tool's weights once (the line gives the command) —
/// never dropped silently. <c>-cudnn_autotune</c> is accepted: IlgpuStyle tunes its kernels anyway.</item>
/// </list>
/// IlgpuStyle's own defaults apply to everything not given (3 scales, the content as the start, the Wolfe line
/// search …). The translation is said in one <c>note:</c> line. Tests: NeuralStyleArgumentsTests.
/// </summary>
internal static class NeuralStyleArguments
{
    internal sealed record Translation(string[] Args, string? Note);

    /// <summary>neural_style.lua's options that take no value (torch.CmdLine's booleans).</summary>
    private static readonly HashSet<string> Flags = ["normalize_gradients", "cudnn_autotune"];

    /// <summary>Every option of neural_style.lua (2016–2017, the last version), by its name without the dash.</summary>
    private static readonly HashSet<string> Names =
    [
        "style_image", "style_blend_weights", "content_image", "image_size", "gpu", "multigpu_strategy",
        "content_weight", "style_weight", "tv_weight", "num_iterations", "normalize_gradients", "init", "init_image",
        "optimizer", "learning_rate", "lbfgs_num_correction", "print_iter", "save_iter", "output_image",
        "style_scale", "original_colors", "pooling", "proto_file", "model_file", "backend", "cudnn_autotune", "seed",
        "content_layers", "style_layers",
    ];

    /// <summary>Those whose value passes unchanged, and the IlgpuStyle option it goes to.</summary>
    private static readonly Dictionary<string, string> SameValue = new()
    {
        ["content_image"] = "--content", ["style_image"] = "--style", ["image_size"] = "--size",
        ["output_image"] = "--output", ["num_iterations"] = "--iterations", ["content_weight"] = "--content-weight",
        ["style_weight"] = "--style-weight", ["style_scale"] = "--style-scale", ["pooling"] = "--pooling",
        ["optimizer"] = "--optimizer", ["content_layers"] = "--content-layers", ["style_layers"] = "--style-layers",
        ["save_iter"] = "--save-every",
    };

    /// <summary>neural_style.lua's -tv_weight default; IlgpuStyle's --tv-weight default (1) is its counterpart.</summary>
    private const double NeuralStyleTvWeight = 1e-3;

    /// <summary>Pixel values there run 0..255 (Caffe's preprocessing), here 0..1: Adam's step converts by this.</summary>
    private const double PixelScale = 255;

    /// <summary>True when <paramref name="token"/> is one of neural_style.lua's options.</summary>
    internal static bool IsNeuralStyleOption(string token) =>
        token.Length > 2 && token[0] == '-' && token[1] != '-' && Names.Contains(token[1..]);

    /// <summary>
    /// <paramref name="args"/> (after the command's name) with neural_style.lua's options replaced by IlgpuStyle's;
    /// the note is null when there were none. <paramref name="cpuDevice"/> names the device for <c>-gpu -1</c> (asked
    /// only then). A <c>-seed -1</c> draws from <paramref name="random"/>. An option also given in IlgpuStyle's form
    /// (any alias of <paramref name="command"/>'s option) is bad input, as is anything refused above: <see cref="UsageException"/>.
    /// </summary>
    internal static Translation Translate(IReadOnlyList<string> args, Command command, Func<string> cpuDevice, Random random)
    {
        var given = new Dictionary<string, string>();   // name → value ("" for a flag), in the order given
        var order = new List<string>();
        var rest = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--original-colors" && i + 1 < args.Count && args[i + 1] is "1" or "0" or "true" or "false")
            {
                // Their value with our spelling: --original-colors 1 is the flag, 0 its absence.
                if (args[++i] is "1" or "true") rest.Add("--original-colors");
                continue;
            }
            if (!IsNeuralStyleOption(args[i]))
            {
                rest.Add(args[i]);
                continue;
            }
            var name = args[i][1..];
            if (given.ContainsKey(name)) throw new UsageException($"-{name} is given twice.");
            if (Flags.Contains(name)) given[name] = "";
            else if (i + 1 < args.Count) given[name] = args[++i];
            else throw new UsageException($"-{name} needs a value (jcjohnson/neural-style's option).");
            order.Add(name);
        }
        if (given.Count == 0) return new Translation([.. rest], null);

        var added = new List<string>();
        var said = new List<string>();   // conversions worth a word in the note
        string source = "";              // their option(s) the next Add comes from, for the error below
        void Add(string option, params string[] values)
        {
            var aliases = command.Options.FirstOrDefault(o => o.Name == option) is { } o ? [o.Name, .. o.Aliases] : new[] { option };
            if (rest.Any(t => aliases.Any(a => t == a || t.StartsWith(a + "=", StringComparison.Ordinal) || t.StartsWith(a + ":", StringComparison.Ordinal))))
                throw new UsageException($"{option} is also given as jcjohnson/neural-style's option ({source}): give one.");
            added.Add(option);
            added.AddRange(values);
        }

        foreach (var name in order)
        {
            var value = given[name];
            source = "-" + name;
            if (SameValue.TryGetValue(name, out var option))
            {
                Add(option, value);
                continue;
            }
            switch (name)
            {
                case "style_blend_weights":
                    if (value != "nil") Add("--style-blend", value);   // neural_style.lua's "nil": equal weights
                    break;
                case "tv_weight":
                {
                    double tv = Number("-" + name, value);
                    var ours = Format(tv / NeuralStyleTvWeight);
                    Add("--tv-weight", ours);
                    said.Add($"-tv_weight {value} is --tv-weight {ours}: their default 1e-3 is this tool's 1");
                    break;
                }
                case "learning_rate":
                {
                    double rate = Number("-" + name, value);
                    if (given.GetValueOrDefault("optimizer", "lbfgs") == "adam")
                    {
                        var ours = Format(rate / PixelScale);
                        Add("--learning-rate", ours);
                        said.Add($"-learning_rate {value} is --learning-rate {ours}: pixels run 0..1 here, 0..255 there");
                    }
                    else said.Add($"-learning_rate {value} ignored with L-BFGS, as neural_style.lua does");
                    break;
                }
                case "init":
                    if (value == "random" && given.ContainsKey("init_image"))
                        throw new UsageException("-init random contradicts -init_image: give -init image (or leave -init out) to start from that file.");
                    if (!given.ContainsKey("init_image")) Add("--init", value);
                    break;
                case "init_image":
                    Add("--init", value);
                    break;
                case "lbfgs_num_correction":
                    if (Integer("-" + name, value) > 0) Add("--lbfgs-history", value);   // 0: torch's optim.lbfgs default, 100 (IlgpuStyle's too)
                    break;
                case "print_iter":
                    if (Integer("-" + name, value) > 0) Add("--print-every", value);
                    else Add("--quiet");
                    break;
                case "original_colors":
                    if (value == "1") Add("--original-colors");
                    else if (value != "0") throw new UsageException($"-original_colors '{value}' is not 0 or 1.");
                    break;
                case "seed":
                    if (Integer("-" + name, value) >= 0) Add("--seed", value);
                    else
                    {
                        var drawn = random.Next().ToString(CultureInfo.InvariantCulture);
                        Add("--seed", drawn);
                        said.Add($"-seed {value} drew --seed {drawn}");
                    }
                    break;
                case "gpu":
                case "backend":
                    break;   // below, together
                case "cudnn_autotune":
                    said.Add("-cudnn_autotune: this tool tunes its kernels anyway (--autotune)");
                    break;
                case "multigpu_strategy":
                    if (value != "")
                        throw new UsageException("-multigpu_strategy: IlgpuStyle runs on one device (--device); an image too large for it runs in tiles (--max-memory, --tile-size).");
                    break;
                case "normalize_gradients":
                    throw new UsageException("-normalize_gradients is not supported: IlgpuStyle's losses are relative errors (see README, Losses); weigh the terms with --content-weight and --style-weight.");
                case "proto_file":
                case "model_file":
                    if (name == "model_file" && value.EndsWith(".ilgw", StringComparison.OrdinalIgnoreCase)) Add("--weights", value);
                    else if (name == "model_file" && value.EndsWith(".caffemodel", StringComparison.OrdinalIgnoreCase))
                        throw new UsageException($"-model_file '{value}': convert it once with `ilgpu-style weights convert --from {Quote(value)} --out weights/vgg19.ilgw`, which this tool then finds (or give --weights FILE).");
                    else if (name == "model_file" || !given.TryGetValue("model_file", out var model) || !model.EndsWith(".ilgw", StringComparison.OrdinalIgnoreCase))
                        throw new UsageException($"-{name} '{value}': IlgpuStyle's network is VGG19 from an .ilgw weights file (--weights; `ilgpu-style weights convert` makes one).");
                    break;
            }
        }
        if (given.ContainsKey("gpu") || given.ContainsKey("backend"))
        {
            source = string.Join(", ", order.Where(n => n is "gpu" or "backend").Select(n => "-" + n));
            var (device, why) = Device(given.GetValueOrDefault("gpu", "0"), given.GetValueOrDefault("backend", "nn"), cpuDevice);
            Add("--device", device);
            if (why is not null) said.Add(why);
        }

        var note = $"read jcjohnson/neural-style's options as: {string.Join(' ', added.Select(Quote))}" +
                   (said.Count > 0 ? $" ({string.Join("; ", said)})" : "");
        return new Translation([.. rest, .. added], note);
    }

    /// <summary>What -gpu -1 means here: the first usable OpenCL CPU device (PoCL), else the CPU simulator.</summary>
    internal static string CpuDevice() =>
        DeviceCatalog.List().FirstOrDefault(d => d.Usable && d.Kind == AcceleratorType.OpenCL && d.Type.StartsWith("CPU", StringComparison.Ordinal))?.Id
        ?? "cpu";

    /// <summary>-gpu and -backend: N ≥ 0 a CUDA device (nn, cudnn) or an OpenCL one (clnn); -1 their CPU mode.</summary>
    private static (string Device, string? Why) Device(string gpu, string backend, Func<string> cpuDevice)
    {
        if (backend is not ("nn" or "cudnn" or "clnn"))
            throw new UsageException($"-backend '{backend}' is not nn, cudnn or clnn.");
        if (!int.TryParse(gpu, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int index))
            throw new UsageException($"-gpu '{gpu}': IlgpuStyle runs on one device (--device), not '{gpu}'.");
        if (index < 0)
        {
            var cpu = cpuDevice();
            return (cpu, $"-gpu {gpu}, their CPU mode, is {cpu}");
        }
        return (backend == "clnn" ? $"opencl:{index}" : $"cuda:{index}", null);
    }
}
