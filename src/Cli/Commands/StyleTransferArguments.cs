using System.CommandLine;
using System.Globalization;
using IlgpuStyle.Stylize;
using static IlgpuStyle.Cli.Commands.TranslatedValues;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// crowsonkb/style-transfer-pytorch's command line, <c>style_transfer CONTENT STYLE… [options]</c>, run as written
/// after <c>ilgpu-style</c>: its options and its defaults become <c>stylize</c>'s, with the meaning they had there —
/// Adam (step 0.02) with the iterates averaged (0.99), the 2-Wasserstein style loss (<c>--style-loss meancov</c>), the
/// content as the start, scales growing by √2 from 128 px to 512 px (1000 iterations at the first, 500 at each
/// other). Its loss weights are taken relative to its defaults (content 0.015, smoothing 2), which are this tool's
/// defaults for the same loss: the two projects normalize their loss terms differently (README, Losses). The
/// translation is said in one <c>note:</c> line; what has no counterpart is refused in one line. This tool's own
/// options pass through, except those that would say again what one of theirs says. Tests: StyleTransferArgumentsTests.
/// </summary>
internal static class StyleTransferArguments
{
    internal sealed record Translation(string[] Args, string Note);

    /// <summary>The command's names: crowsonkb's executable, and its spelling with a dash.</summary>
    internal static bool IsCommand(string name) => name is "style_transfer" or "style-transfer";

    /// <summary>Their options by every spelling, to the long name; and how many values each takes (−1: one or more).</summary>
    private static readonly Dictionary<string, string> Spellings = new()
    {
        ["--output"] = "output", ["-o"] = "output", ["--style-weights"] = "style-weights", ["-sw"] = "style-weights",
        ["--devices"] = "devices", ["--random-seed"] = "random-seed", ["-r"] = "random-seed",
        ["--content-weight"] = "content-weight", ["-cw"] = "content-weight", ["--tv-weight"] = "tv-weight", ["-tw"] = "tv-weight",
        ["--optimizer"] = "optimizer", ["--min-scale"] = "min-scale", ["-ms"] = "min-scale", ["--end-scale"] = "end-scale",
        ["-s"] = "end-scale", ["--iterations"] = "iterations", ["-i"] = "iterations", ["--initial-iterations"] = "initial-iterations",
        ["-ii"] = "initial-iterations", ["--save-every"] = "save-every", ["--step-size"] = "step-size", ["-ss"] = "step-size",
        ["--avg-decay"] = "avg-decay", ["-ad"] = "avg-decay", ["--init"] = "init", ["--style-scale-fac"] = "style-scale-fac",
        ["--style-size"] = "style-size", ["--pooling"] = "pooling", ["--proof"] = "proof", ["--web"] = "web",
        ["--host"] = "host", ["--port"] = "port", ["--browser"] = "browser",
    };

    /// <summary>
    /// One of their options typed into <c>stylize</c> (one <paramref name="stylize"/> does not also have): a
    /// <see cref="UsageException"/> naming style_transfer. Unchecked, <c>--end-scale 1024</c> would be read as two more
    /// style images there.
    /// </summary>
    internal static void CheckNotTheirs(IEnumerable<string> args, Command stylize)
    {
        foreach (var token in args)
        {
            var name = token.Split('=')[0];
            if (Spellings.ContainsKey(name) && !stylize.Options.Any(o => o.Name == name || o.Aliases.Contains(name)))
                throw new UsageException($"{name} is crowsonkb/style-transfer-pytorch's option: `ilgpu-style style_transfer CONTENT STYLE {name} …` reads its command line (stylize's options: `ilgpu-style stylize --help`).");
        }
    }

    private static readonly HashSet<string> ManyValues = ["style-weights", "devices"];
    private static readonly HashSet<string> NoValue = ["web"];

    /// <summary>This tool's options that one of theirs sets here (the value is theirs to give), and which.</summary>
    private static readonly Dictionary<string, string> OursSetByTheirs = new()
    {
        ["--content"] = "the first image", ["--style"] = "the images after the content", ["--style-blend"] = "--style-weights",
        ["--size"] = "--end-scale", ["--scales"] = "--min-scale", ["--scales-per-octave"] = "--min-scale",
        ["--learning-rate"] = "--step-size", ["--average-decay"] = "--avg-decay", ["--seed"] = "--random-seed",
        ["--device"] = "--devices", ["--style-scale"] = "--style-scale-fac", ["--preview"] = "--web", ["--preview-port"] = "--port",
    };

    /// <summary>Their defaults (StyleTransfer.stylize's keyword defaults and cli.py's).</summary>
    private const double TheirContentWeight = 0.015, TheirTvWeight = 2;
    private const int TheirMinScale = 128, TheirEndScale = 512, TheirPort = 8080;

    /// <summary>
    /// <paramref name="args"/> (after the command's name) as <c>stylize</c>'s arguments. <paramref name="cpuDevice"/>
    /// names the device for <c>--devices cpu</c> (asked only then); <paramref name="imageSize"/> reads the content's size
    /// for an end scale with a <c>+</c> (asked only then). Bad input: <see cref="UsageException"/>.
    /// </summary>
    internal static Translation Translate(IReadOnlyList<string> args, Command stylize, Func<string> cpuDevice, Func<string, (int Width, int Height)> imageSize)
    {
        var given = new Dictionary<string, List<string>>();
        var images = new List<string>();
        var ours = new List<string>();   // this tool's options, passed through by their names (not aliases) with their values
        bool optionsEnded = false;
        for (int i = 0; i < args.Count; i++)
        {
            string token = args[i];
            if (optionsEnded || !LooksLikeOption(token))
            {
                images.Add(token);
                continue;
            }
            if (token == "--")
            {
                optionsEnded = true;
                continue;
            }
            string? attached = null;
            int eq = token.IndexOf('=');
            if (token.StartsWith("--", StringComparison.Ordinal) && eq > 0) (token, attached) = (token[..eq], token[(eq + 1)..]);
            if (Spellings.TryGetValue(token, out var name))
            {
                if (given.ContainsKey(name)) throw new UsageException($"--{name} is given twice.");
                var values = new List<string>();
                if (attached is not null) values.Add(attached);
                else if (ManyValues.Contains(name))
                    while (i + 1 < args.Count && !LooksLikeOption(args[i + 1])) values.Add(args[++i]);
                else if (name == "browser")
                {
                    if (i + 1 < args.Count && !LooksLikeOption(args[i + 1])) values.Add(args[++i]);   // nargs='?'
                }
                else if (!NoValue.Contains(name))
                {
                    if (i + 1 >= args.Count) throw new UsageException($"{token} needs a value (crowsonkb/style-transfer-pytorch's option).");
                    values.Add(args[++i]);
                }
                if (ManyValues.Contains(name) && values.Count == 0) throw new UsageException($"{token} needs at least one value.");
                if (NoValue.Contains(name) && attached is not null) throw new UsageException($"{token} takes no value.");
                given[name] = values;
                continue;
            }
            // One of this tool's options: passed through with its values, unless one of theirs says the same thing.
            var option = stylize.Options.FirstOrDefault(o => o.Name == token || o.Aliases.Contains(token))
                ?? throw new UsageException($"{args[i]} is neither crowsonkb/style-transfer-pytorch's option nor this tool's (see `ilgpu-style style_transfer --help`).");
            if (OursSetByTheirs.TryGetValue(option.Name, out var theirs))
                throw new UsageException($"{option.Name}: in style_transfer's command line that is {theirs} (crowsonkb's), or use `ilgpu-style stylize`.");
            ours.Add(option.Name);
            if (attached is not null) ours.Add(attached);
            else if (option.Arity.MaximumNumberOfValues > 1)
                while (i + 1 < args.Count && !LooksLikeOption(args[i + 1])) ours.Add(args[++i]);
            else if (option.Arity.MinimumNumberOfValues >= 1)
            {
                if (i + 1 >= args.Count) throw new UsageException($"{option.Name} needs a value.");
                ours.Add(args[++i]);
            }
        }
        if (images.Count < 2)
            throw new UsageException("style_transfer needs the content image and at least one style image: ilgpu-style style_transfer CONTENT STYLE [STYLE …] [-o OUT].");

        var result = new List<string> { "--content", images[0], "--style" };
        result.AddRange(images.Skip(1));
        var said = new List<string>();
        string? Value(string name) => given.TryGetValue(name, out var v) ? v[0] : null;
        void Set(string option, params string[] values)
        {
            result.Add(option);
            result.AddRange(values);
        }

        if (Value("output") is { } output) Set("--output", output);
        if (given.TryGetValue("style-weights", out var weights))
        {
            if (weights.Count != images.Count - 1)
                throw new UsageException($"--style-weights has {weights.Count} weights for {images.Count - 1} style images.");
            foreach (var w in weights) Number("--style-weights", w);
            Set("--style-blend", [.. weights]);
        }
        if (given.TryGetValue("devices", out var devices))
        {
            if (devices.Count > 1)
                throw new UsageException($"--devices {string.Join(' ', devices)}: this tool runs on one device (an image too large for it runs in tiles: --max-memory, --tile-size).");
            Set("--device", Device(devices[0], cpuDevice, said));
        }
        Set("--seed", Value("random-seed") is { } seed ? Integer("--random-seed", seed).ToString(CultureInfo.InvariantCulture) : "0");

        string optimizer = Value("optimizer") ?? "adam";
        if (optimizer is not ("adam" or "lbfgs")) throw new UsageException($"--optimizer '{optimizer}' is not adam or lbfgs.");
        Set("--optimizer", optimizer);
        // Their loss is W2 (meancov) unless this tool's --style-loss is given too.
        int styleLossAt = ours.IndexOf("--style-loss");
        if (styleLossAt < 0) Set("--style-loss", "meancov");
        var kind = styleLossAt >= 0 && styleLossAt + 1 < ours.Count && ours[styleLossAt + 1] == "gram" ? StyleLossKind.Gram : StyleLossKind.MeanCov;

        // Weights relative to their defaults: theirs are those of their loss terms, this tool's defaults those of its own.
        if (Value("content-weight") is { } cw)
        {
            var alpha = Format(Number("--content-weight", cw) / TheirContentWeight * LossSettings.DefaultContentWeight(kind));
            Set("--content-weight", alpha);
            said.Add($"--content-weight {cw} is --content-weight {alpha}: their default 0.015 is this tool's {LossSettings.DefaultContentWeight(kind)}");
        }
        if (Value("tv-weight") is { } tw)
        {
            float ourDefault = new LossSettings().TvWeight;
            var gamma = Format(Number("--tv-weight", tw) / TheirTvWeight * ourDefault);
            Set("--tv-weight", gamma);
            said.Add($"--tv-weight {tw} is --tv-weight {gamma}: their default 2 is this tool's {ourDefault}");
        }

        // Scales: round(end / 2^(i/2)) for i = 0, 1, … while at least the minimum (their gen_scales), coarse to fine.
        int end = TheirEndScale;
        if (Value("end-scale") is { } endText)
        {
            end = Integer("--end-scale", endText.TrimEnd('+'));
            if (endText.EndsWith('+'))
            {
                // Their "safe scale": a dim × dim square's pixels, so the long side grows by √(aspect ratio).
                var (w, h) = imageSize(images[0]);
                int safe = (int)(Math.Sqrt(Math.Max(w, h) / (double)Math.Min(w, h)) * end);
                said.Add($"--end-scale {endText} is --size {safe} for the {w}×{h} content");
                end = safe;
            }
        }
        int min = Value("min-scale") is { } minText ? Integer("--min-scale", minText) : TheirMinScale;
        if (end < 16) throw new UsageException($"--end-scale {end} is too small (at least 16).");
        int scales = RunSettings.ScalesFrom(Math.Min(min, end), end, scalesPerOctave: 2);
        Set("--size", end.ToString(CultureInfo.InvariantCulture));
        Set("--scales", scales.ToString(CultureInfo.InvariantCulture));
        Set("--scales-per-octave", "2");
        Set("--iterations", Value("iterations") ?? "500");
        Set("--initial-iterations", Value("initial-iterations") ?? "1000");
        if (Value("save-every") is { } every)
        {
            Set("--save-every", every);
            said.Add($"--save-every {every} writes out_s<scale>_<iteration> files beside the output, which is written at the end");
        }
        if (optimizer == "adam")
        {
            Set("--learning-rate", Value("step-size") ?? "0.02");
            Set("--average-decay", Value("avg-decay") ?? "0.99");
        }
        else
        {
            if (Value("step-size") is { } step) Set("--learning-rate", step);
            if (Value("avg-decay") is { } decay) Set("--average-decay", decay);
        }
        Set("--init", Value("init") switch
        {
            null or "content" => "content",
            "gray" => "gray",
            "uniform" => "uniform",
            "style_mean" => "style-mean",
            var other => throw new UsageException($"--init '{other}' is not content, gray, uniform or style_mean."),
        });
        if (Value("style-scale-fac") is { } fac) Set("--style-scale", fac);
        if (Value("style-size") is { } styleSize) Set("--style-size", styleSize);
        switch (Value("pooling"))
        {
            case null or "max":
                Set("--pooling", "max");
                break;
            case "average":
                Set("--pooling", "avg");
                said.Add("--pooling average is --pooling avg, without their ×2 on the pooled activations");
                break;
            case "l2":
                throw new UsageException("--pooling l2 is not supported: max or average.");
            case var other:
                throw new UsageException($"--pooling '{other}' is not max, average or l2.");
        }
        if (Value("proof") is { } proof)
            throw new UsageException($"--proof {proof}: this tool writes no proof sheets; --save-every N writes the image every N iterations.");
        Web(given, Value, Set, said);
        result.AddRange(ours);
        var note = $"read crowsonkb/style-transfer-pytorch's command line as: stylize {string.Join(' ', result.Select(Quote))}" +
                   (said.Count > 0 ? $" ({string.Join("; ", said)})" : "");
        return new Translation([.. result], note);
    }

    /// <summary>--web, --host, --port, --browser: this tool's live preview (--preview-port), on 127.0.0.1 only.</summary>
    private static void Web(Dictionary<string, List<string>> given, Func<string, string?> value, Action<string, string[]> set, List<string> said)
    {
        if (!given.ContainsKey("web"))
        {
            foreach (var n in new[] { "host", "port", "browser" })
                if (given.ContainsKey(n)) said.Add($"--{n} ignored without --web, as there");
            return;
        }
        string portText = value("port") ?? TheirPort.ToString(CultureInfo.InvariantCulture);
        if (value("host") is { } host && host is not ("127.0.0.1" or "localhost" or "::1"))
            throw new UsageException($"--host {host}: the live preview listens on 127.0.0.1 only; from another machine tunnel it (ssh -L {portText}:127.0.0.1:{portText} host).");
        int port = Integer("--port", portText);
        set("--preview-port", [port.ToString(CultureInfo.InvariantCulture)]);
        if (given.ContainsKey("browser")) said.Add($"--browser: no browser is started; open http://127.0.0.1:{port}/");
    }

    /// <summary>--devices NAME: PyTorch's device names (cuda, cuda:N, cpu) as this tool's; its own (opencl:N) as they are.</summary>
    private static string Device(string name, Func<string> cpuDevice, List<string> said)
    {
        if (name == "cpu")
        {
            var cpu = cpuDevice();
            said.Add($"--devices cpu is {cpu}");
            return cpu;
        }
        if (name is "cuda" or "opencl" or "auto" || DeviceName(name, "cuda:") || DeviceName(name, "opencl:")) return name;
        throw new UsageException($"--devices {name}: this tool runs on cuda, cuda:N, opencl:N or cpu (see `ilgpu-style devices`).");
    }

    private static bool DeviceName(string name, string prefix) =>
        name.StartsWith(prefix, StringComparison.Ordinal) && int.TryParse(name[prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out _);

    /// <summary>argparse's rule: a token starting with a dash is an option unless it is a negative number.</summary>
    private static bool LooksLikeOption(string token) =>
        token.Length > 1 && token[0] == '-' && !double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    /// <summary>`ilgpu-style style_transfer --help`: their options and what each becomes here.</summary>
    internal const string Help = """
        usage: ilgpu-style style_transfer CONTENT STYLE [STYLE ...] [options]

        crowsonkb/style-transfer-pytorch's command line, run as `ilgpu-style stylize` with its defaults and options
        (a `note:` line says how it was read). Their option → this tool's:
          -o, --output FILE              --output (default out.png)
          -sw, --style-weights W [W ...] --style-blend
          --devices DEVICE               --device: cuda, cuda:N, opencl:N; cpu is an OpenCL CPU device (PoCL) when
                                         there is one, else the CPU simulator; one device only
          -r, --random-seed N            --seed (default 0)
          -cw, --content-weight X        --content-weight, relative to their default 0.015 (= this tool's default)
          -tw, --tv-weight X             --tv-weight, relative to their default 2 (= this tool's default)
          --optimizer adam|lbfgs         --optimizer (default adam)
          -ms, --min-scale N             the smallest scale (default 128); scales grow by √2 (--scales-per-octave 2)
          -s, --end-scale N[+]           --size (default 512); N+ makes the image's pixels those of an N × N square
          -i, --iterations N             --iterations (default 500)
          -ii, --initial-iterations N    --initial-iterations (default 1000)
          --save-every N                 --save-every (writes numbered files beside the output)
          -ss, --step-size X             --learning-rate (default 0.02)
          -ad, --avg-decay X             --average-decay (default 0.99)
          --init content|gray|uniform|style_mean   --init
          --style-scale-fac X            --style-scale (default 1)
          --style-size N                 --style-size
          --pooling max|average          --pooling max|avg (l2 is not supported)
          --web [--port P]               --preview-port (default 8080; 127.0.0.1 only)
        The style loss is theirs, the 2-Wasserstein distance between Gaussians (--style-loss meancov). Any other
        option of `ilgpu-style stylize` may be added (--weights, --precision, --report, --max-memory, ...).
        """;
}
