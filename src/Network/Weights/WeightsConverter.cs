using System.Text;

namespace IlgpuStyle.Network.Weights;

/// <summary>Which source each VGG19 layer's tensors came from, after merging.</summary>
public sealed record LayerReport(ConvLayerSpec Layer, WeightTensor Weight, WeightTensor Bias, IReadOnlyList<string> Alternatives);

public sealed record ConversionResult(VggWeights Weights, IReadOnlyList<LayerReport> Layers, IReadOnlyList<SourceSet> Sources);

/// <summary>
/// Builds <see cref="VggWeights"/> from published checkpoints: TF.js layers models (folder or model.json),
/// PyTorch .pth files (torchvision names) and Caffe .caffemodel files (VGG's own release), format auto-detected. With several inputs, each tensor is taken from
/// the input that stores it most precisely (float64 &gt; float32 &gt; float16 &gt; bfloat16 &gt; uint16 &gt; uint8;
/// ties go to the earlier input). All inputs must agree on the input preprocessing.
/// </summary>
public static class WeightsConverter
{
    /// <param name="paths">TF.js folders or model.json files, PyTorch .pth files, Caffe .caffemodel files.</param>
    /// <param name="preprocessing">
    /// Overrides the preprocessing each format implies (TF.js → Keras/Caffe, .pth → torchvision); needed for e.g. the
    /// Caffe VGG19 converted to a .pth with torchvision names (BGR 0..255: <see cref="Preprocessing.KerasImagenet"/>).
    /// </param>
    public static ConversionResult Convert(IReadOnlyList<string> paths, Preprocessing? preprocessing = null)
    {
        if (paths.Count == 0) throw new ArgumentException("no input given");
        var sets = paths.Select(ReadSource).ToList();
        if (preprocessing is not null)
            sets = sets.Select(s => s with { Preprocessing = preprocessing, Description = s.Description + $" (preprocessing set to {preprocessing.ChannelOrder} ×{preprocessing.InputScale})" }).ToList();
        return Merge(sets);
    }

    /// <summary>Reads the VGG19 conv tensors of one input, detecting its format.</summary>
    public static SourceSet ReadSource(string path)
    {
        if (Directory.Exists(path))
        {
            if (File.Exists(System.IO.Path.Combine(path, "model.json"))) return TfjsSource.Read(path);
            throw WeightsFormatException.For(path, "folder has no model.json (expected a TF.js layers model folder)");
        }
        if (!File.Exists(path)) throw WeightsFormatException.For(path, "no such file or folder");

        var head = new byte[512];
        int n;
        using (var fs = File.OpenRead(path)) n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var h = head.AsSpan(0, n);
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || h.TrimStart(" \t\r\n"u8).StartsWith("{"u8))
            return TfjsSource.Read(path);
        if (h.StartsWith("PK\u0003\u0004"u8) || h.StartsWith(new byte[] { 0x80 }))
            return TorchvisionSource.Read(path);
        if (n >= 262 && h.Slice(257, 5).SequenceEqual("ustar"u8))
            throw WeightsFormatException.For(path, "tar-format PyTorch checkpoint (PyTorch < 0.1.10) is not supported; re-save it with torch.save in a recent PyTorch");
        if (h.StartsWith(new byte[] { 0x89, (byte)'H', (byte)'D', (byte)'F' }))
            throw WeightsFormatException.For(path, "Keras .h5 files are not read directly; convert to TF.js first (see weights/README.md)");
        if (h.StartsWith("ILGW"u8))
            throw WeightsFormatException.For(path, "this is already an .ilgw file (use `ilgpu-style weights info`)");
        if (path.EndsWith(".caffemodel", StringComparison.OrdinalIgnoreCase))
            return Caffe.CaffeModelSource.Read(path);
        throw WeightsFormatException.For(path, "unrecognised weights format (expected a TF.js model.json or folder, a PyTorch .pth or a Caffe .caffemodel)");
    }

    public static ConversionResult Merge(IReadOnlyList<SourceSet> sets)
    {
        var first = sets[0];
        foreach (var s in sets.Skip(1))
            if (!s.Preprocessing.Equals(first.Preprocessing))
                throw new WeightsFormatException(
                    $"cannot mix {first.Path} ({first.Preprocessing}) with {s.Path} ({s.Preprocessing}): they are different trainings of VGG19");

        foreach (var s in sets)
            if (s.Tensors.Count == 0 && s.Unavailable.Count == 0)
                throw WeightsFormatException.For(s.Path, "holds no VGG19 conv tensors (expected names like block1_conv1/kernel, features.0.weight or a Caffe layer conv1_1)");

        var names = Vgg19Layout.ConvLayers.SelectMany(l => new[] { l.WeightName, l.BiasName });
        var missing = names.Where(n => !sets.Any(s => s.Tensors.Any(t => t.Name == n))).ToList();
        if (missing.Count > 0)
        {
            var why = sets.SelectMany(s => missing.Where(s.Unavailable.ContainsKey).Select(m => s.Unavailable[m])).Distinct().Take(2).ToList();
            throw new WeightsFormatException(
                $"{string.Join(" + ", sets.Select(s => s.Path))}: no input holds {Summarize(missing)}" +
                (why.Count > 0 ? $" ({string.Join("; ", why)}{(missing.Count > why.Count ? "; …" : "")})" : "") +
                "; add an input that has them (e.g. --from ../shared/vgg19/keras-tfjs-uint8 for conv4_1..conv5_4)");
        }
        foreach (var s in sets)
            foreach (var t in s.Tensors) CheckShape(s, t);

        var chosen = new List<WeightTensor>();
        var reports = new List<LayerReport>();
        foreach (var layer in Vgg19Layout.ConvLayers)
        {
            var w = Pick(sets, layer.WeightName, out var wAlt)!;
            var b = Pick(sets, layer.BiasName, out var bAlt)!;
            chosen.Add(w);
            chosen.Add(b);
            reports.Add(new LayerReport(layer, w, b, wAlt.Concat(bAlt).Distinct().ToList()));
        }

        var from = string.Join("; ", sets.Select(s => $"{s.Name}: {s.Description}"));
        var weights = new VggWeights(chosen, first.Preprocessing, from);
        weights.Validate(Vgg19Layout.ConvLayers);
        return new ConversionResult(weights, reports, sets);
    }

    private static WeightTensor? Pick(IReadOnlyList<SourceSet> sets, string name, out List<string> alternatives)
    {
        alternatives = [];
        (SourceSet Set, SourceTensor T)? best = null;
        foreach (var s in sets)
            foreach (var t in s.Tensors.Where(t => t.Name == name))
            {
                if (best is null || t.Precision > best.Value.T.Precision) best = (s, t);
            }
        if (best is null) return null;
        var (bs, bt) = best.Value;
        foreach (var s in sets)
            foreach (var t in s.Tensors.Where(t => t.Name == name && !ReferenceEquals(t, bt)))
                alternatives.Add(s.Label(t.Precision));
        return new WeightTensor(name, bt.Dims, bt.Data, bs.Label(bt.Precision));
    }

    private static void CheckShape(SourceSet s, SourceTensor t)
    {
        var layer = Vgg19Layout.Get(t.Name[..t.Name.IndexOf('.')]);
        int[] expected = t.Name.EndsWith(".weight") ? [layer.Cout, layer.Cin, 3, 3] : [layer.Cout];
        if (!t.Dims.SequenceEqual(expected))
            throw WeightsFormatException.For(s.Path,
                $"{t.Name} has shape {WeightTensor.FormatDims(t.Dims)} (OIHW), VGG19 needs {WeightTensor.FormatDims(expected)}; is this a VGG19 checkpoint?");
    }

    /// <summary>"conv4_1.weight, conv4_1.bias, …" shortened to layer names when both tensors of a layer are missing.</summary>
    private static string Summarize(List<string> missing)
    {
        var sb = new StringBuilder();
        var layers = missing.Select(m => m[..m.IndexOf('.')]).Distinct().ToList();
        foreach (var l in layers)
        {
            if (sb.Length > 0) sb.Append(", ");
            bool both = missing.Contains(l + ".weight") && missing.Contains(l + ".bias");
            sb.Append(both ? l : missing.First(m => m.StartsWith(l + ".")));
        }
        return sb.ToString();
    }
}
