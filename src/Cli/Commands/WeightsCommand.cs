using System.CommandLine;
using System.Globalization;
using IlgpuStyle.Network.Weights;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// `ilgpu-style weights convert|info|download`: make, inspect and fetch VGG19 weights in IlgpuStyle's .ilgw format.
/// Errors follow <see cref="CliErrors"/>: one line on stderr, exit code 2.
/// </summary>
public static class WeightsCommand
{
    public static Command Create()
    {
        var command = new Command("weights", "Convert, inspect or download VGG19 weights (.ilgw files).");
        command.Subcommands.Add(Convert());
        command.Subcommands.Add(Info());
        command.Subcommands.Add(Download());
        return command;
    }

    private static Command Convert()
    {
        var from = new Option<string[]>("--from")
        {
            Description = "Inputs: TF.js folders or model.json files, PyTorch .pth files, or Caffe .caffemodel files (format auto-detected). "
                          + "With several, each tensor comes from the most precise input that has it.",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string>("--out") { Description = "The .ilgw file to write.", Required = true };
        var dtype = DTypeOption();
        var preprocessing = new Option<string>("--preprocessing")
        {
            Description = "Input preprocessing the weights were trained with. auto: TF.js/Keras and .caffemodel → caffe, .pth → torchvision. "
                          + "caffe = BGR 0..255 minus the ImageNet mean (Caffe, Keras, Caffe models converted to .pth); "
                          + "torchvision = RGB 0..1, ImageNet mean/std.",
            DefaultValueFactory = _ => "auto",
        };
        preprocessing.AcceptOnlyFromAmong("auto", "caffe", "torchvision");
        var command = new Command("convert", "Convert VGG19 checkpoints (TF.js, PyTorch) to an .ilgw file.");
        command.Options.Add(from);
        command.Options.Add(output);
        command.Options.Add(dtype);
        command.Options.Add(preprocessing);
        command.SetAction(r => Run(() =>
        {
            var pre = r.GetValue(preprocessing) switch
            {
                "caffe" => Preprocessing.KerasImagenet,
                "torchvision" => Preprocessing.TorchvisionImagenet,
                _ => null,
            };
            var result = WeightsConverter.Convert(r.GetValue(from)!, pre);
            PrintLayers(result);
            Save(result.Weights, r.GetValue(output)!, ParseDType(r.GetValue(dtype)));
            return 0;
        }));
        return command;
    }

    private static Command Info()
    {
        var file = new Argument<string>("file") { Description = "An .ilgw weights file." };
        var command = new Command("info", "Show the layers, shapes, storage, preprocessing and sources of an .ilgw file; verify its checksum.");
        command.Arguments.Add(file);
        command.SetAction(r => Run(() =>
        {
            var w = VggWeights.Load(r.GetValue(file)!);
            Console.WriteLine($"file:           {w.FilePath}");
            Console.WriteLine($"format:         .ilgw v1, {w.Ordered.Count} tensors, stored {Name(w.StoredAs)}, {Bytes(new FileInfo(w.FilePath!).Length)}");
            Console.WriteLine($"sha256:         {w.Sha256} (verified)");
            Console.WriteLine($"converted from: {w.ConvertedFrom}");
            Console.WriteLine($"preprocessing:  {w.Preprocessing}");
            Console.WriteLine();
            Console.WriteLine($"{"tensor",-16} {"shape",-14} {"dtype",-5}  source");
            foreach (var e in w.Entries)
            {
                var err = e.F16MaxAbsError is { } x ? $"  (f16 rounding: max |err| {x.ToString("0.##E+0", CultureInfo.InvariantCulture)})" : "";
                Console.WriteLine($"{e.Name,-16} {Dims(e.Dims),-14} {Name(e.DType),-5}  {e.Source}{err}");
            }
            if (w.StoredAs == StorageDType.F16)
                Console.WriteLine($"f16 storage: max |f32 − f16| over all tensors = {Sci(w.Entries.Max(e => e.F16MaxAbsError ?? 0))} (measured when written)");
            w.Validate(Vgg19Layout.ConvLayers);
            Console.WriteLine("VGG19 conv1_1..conv5_4: complete");
            return 0;
        }));
        return command;
    }

    private static Command Download()
    {
        var output = new Option<string>("--out")
        {
            Description = $"The .ilgw file to write (default: {WeightsLocator.DefaultCachePath}).",
        };
        var dtype = DTypeOption();
        var url = new Option<string>("--url") { Description = "Mirror URL of vgg19-dcbb9e9d.pth.", DefaultValueFactory = _ => TorchvisionDownload.Url };
        var timeout = new Option<double>("--timeout")
        {
            Description = "Seconds to wait for a connection, a response, or more data before giving up.",
            DefaultValueFactory = _ => 30,
        };
        var keep = new Option<bool>("--keep-download") { Description = "Keep the downloaded .pth next to the output file." };
        var command = new Command("download",
            $"Download torchvision's VGG19 ({TorchvisionDownload.Url}, SHA-256 {TorchvisionDownload.Sha256Prefix}…), verify and convert it.");
        command.Options.Add(output);
        command.Options.Add(dtype);
        command.Options.Add(url);
        command.Options.Add(timeout);
        command.Options.Add(keep);
        command.SetAction(r => Run(() =>
        {
            var outPath = r.GetValue(output) ?? WeightsLocator.DefaultCachePath;
            var storage = ParseDType(r.GetValue(dtype));
            var pth = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outPath))!, TorchvisionDownload.FileName);
            var src = r.GetValue(url)!;
            Console.WriteLine($"downloading {src}");
            int lastPercent = -1;
            TorchvisionDownload.FetchAsync(pth, TimeSpan.FromSeconds(r.GetValue(timeout)), src, progress: (done, total) =>
            {
                if (total is not { } t || t == 0) return;
                int percent = (int)(100 * done / t);
                if (percent / 10 != lastPercent / 10) Console.WriteLine($"  {percent}% of {Bytes(t)}");
                lastPercent = percent;
            }).GetAwaiter().GetResult();
            Console.WriteLine($"verified {pth} (SHA-256 starts with {TorchvisionDownload.Sha256Prefix})");
            var result = WeightsConverter.Convert([pth]);
            PrintLayers(result);
            Save(result.Weights, outPath, storage);
            if (!r.GetValue(keep)) File.Delete(pth);
            return 0;
        }));
        return command;
    }

    private static Option<string> DTypeOption()
    {
        var o = new Option<string>("--dtype")
        {
            Description = "Storage precision of the .ilgw payload: f32 (exact) or f16 (half the size; loaded back as f32).",
            DefaultValueFactory = _ => "f32",
        };
        o.AcceptOnlyFromAmong("f32", "f16");
        return o;
    }

    private static StorageDType ParseDType(string? s) => s == "f16" ? StorageDType.F16 : StorageDType.F32;

    private static void PrintLayers(ConversionResult result)
    {
        Console.WriteLine($"{"layer",-8} {"weight",-14} {"bias",-5}  source");
        foreach (var l in result.Layers)
        {
            var src = l.Weight.Source == l.Bias.Source ? l.Weight.Source : $"weight {l.Weight.Source}, bias {l.Bias.Source}";
            var alt = l.Alternatives.Count > 0 ? $"   (also in: {string.Join(", ", l.Alternatives)})" : "";
            Console.WriteLine($"{l.Layer.Name,-8} {Dims(l.Weight.Dims),-14} {Dims(l.Bias.Dims),-5}  {src}{alt}");
        }
        Console.WriteLine($"preprocessing: {result.Weights.Preprocessing}");
    }

    private static void Save(VggWeights weights, string path, StorageDType dtype)
    {
        var saved = weights.Save(path, dtype);
        if (dtype == StorageDType.F16)
        {
            var worst = saved.Tensors.MaxBy(t => t.F16MaxAbsError ?? 0)!;
            Console.WriteLine($"f16 storage: max |f32 − f16| = {Sci(saved.MaxAbsStorageError)} (in {worst.Name})");
        }
        Console.WriteLine($"wrote {saved.Path} ({Name(dtype)}, {Bytes(saved.FileBytes)})");
        Console.WriteLine($"sha256 {saved.Sha256}");
    }

    /// <summary>Runs a command body; known failures become one line on stderr and exit code 1.</summary>
    private static int Run(Func<int> body) => CliErrors.Run(body);

    private static string Name(StorageDType t) => t == StorageDType.F16 ? "f16" : "f32";
    private static string Dims(IReadOnlyList<int> d) => string.Join("×", d);
    private static string Sci(double x) => x.ToString("0.##E+0", CultureInfo.InvariantCulture);
    private static string Bytes(long n) => n >= 1 << 20 ? $"{n / 1048576.0:0.0} MiB" : n >= 1 << 10 ? $"{n / 1024.0:0.0} KiB" : $"{n} bytes";
}
