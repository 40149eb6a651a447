using System.Buffers.Binary;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace IlgpuStyle.Network.Weights;

/// <summary>
/// Reads the VGG19 conv tensors of a TF.js layers model (model.json + binary shards) exported from Keras.
/// weightsManifest groups: the tensors of a group are stored back to back, in manifest order, across the
/// concatenation of the group's shard files. dtype float32, or quantized per tensor
/// (quantization {dtype uint8|uint16, scale, min}: value = min + scale·q; quantization dtype float16: IEEE half).
/// Names "blockB_convN/kernel" (HWIO [3,3,in,out]) and ".../bias" map to convB_N.weight (OIHW) / convB_N.bias;
/// a prefix such as "vgg19/" is allowed. Only the byte ranges of the needed tensors are read, so shards that hold
/// nothing we need (e.g. the fully connected layers) may be absent. Preprocessing: Keras "imagenet" (caffe) mode.
/// </summary>
internal static partial class TfjsSource
{
    [GeneratedRegex(@"(?:^|/)block(\d+)_conv(\d+)/(kernel|bias)(?::0)?$")]
    private static partial Regex KerasConvName();

    /// <summary>"vgg19/block4_conv2/kernel" → "conv4_2.weight"; null for tensors that are not VGG19 conv tensors.</summary>
    public static string? VggName(string kerasName)
    {
        var m = KerasConvName().Match(kerasName);
        if (!m.Success) return null;
        var layer = $"conv{m.Groups[1].Value}_{m.Groups[2].Value}";
        if (Vgg19Layout.ConvLayers.All(l => l.Name != layer)) return null;
        return layer + (m.Groups[3].Value == "kernel" ? ".weight" : ".bias");
    }

    private sealed record Entry(string Name, int[] Shape, string DType, Quantization? Q, long Offset, long Length);
    private sealed record Quantization(string DType, double? Scale, double? Min);

    public static SourceSet Read(string path)
    {
        try
        {
            return ReadManifest(path);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // JsonElement accessors: a missing property or a value of the wrong JSON type.
            throw WeightsFormatException.For(path, $"malformed weightsManifest in model.json ({e.Message})");
        }
    }

    private static SourceSet ReadManifest(string path)
    {
        string modelJson = Directory.Exists(path) ? Path.Combine(path, "model.json") : path;
        if (!File.Exists(modelJson)) throw WeightsFormatException.For(path, "no model.json found");
        var folder = Path.GetDirectoryName(Path.GetFullPath(modelJson))!;
        var name = Path.GetFileName(modelJson) == "model.json" ? Path.GetFileName(folder) : Path.GetFileName(modelJson);

        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(modelJson)); }
        catch (JsonException e) { throw WeightsFormatException.For(modelJson, $"not valid JSON ({e.Message})"); }
        using var _ = doc;
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("weightsManifest", out var manifest) || manifest.ValueKind != JsonValueKind.Array)
            throw WeightsFormatException.For(modelJson, "has no weightsManifest array (not a TF.js model.json)");

        var tensors = new List<SourceTensor>();
        var seen = new Dictionary<string, string>();
        var unavailable = new Dictionary<string, string>();
        int groupIndex = 0;
        foreach (var group in manifest.EnumerateArray())
        {
            groupIndex++;
            var paths = group.GetProperty("paths").EnumerateArray()
                .Select(p => p.GetString() ?? throw new FormatException($"weight group {groupIndex}: a shard path is null")).ToArray();
            var (entries, total) = Layout(group.GetProperty("weights"));
            var needed = entries.Select(e => (Entry: e, Vgg: VggName(e.Name))).Where(x => x.Vgg is not null).ToList();
            if (needed.Count == 0) continue;
            var shards = new TfjsShardGroup(modelJson, groupIndex, folder, paths, total);
            foreach (var (e, vgg) in needed)
            {
                if (seen.TryGetValue(vgg!, out var other))
                    throw WeightsFormatException.For(modelJson, $"both {other} and {e.Name} map to {vgg}; cannot tell which one is VGG19's");
                seen[vgg!] = e.Name;
                if (e.Offset < 0)
                    throw WeightsFormatException.For(modelJson, $"cannot locate {e.Name}: a tensor of unknown byte size (string dtype) precedes it in group {groupIndex}");
                var bytes = shards.TryRead(e.Offset, e.Length, e.Name, out var absent);
                if (bytes is null)
                {
                    unavailable[vgg!] = absent!;
                    continue;
                }
                var (values, precision) = Decode(modelJson, e, bytes);
                tensors.Add(ToVgg(modelJson, vgg!, e, values, precision));
            }
        }

        var by = root.TryGetProperty("convertedBy", out var cb) && cb.ValueKind == JsonValueKind.String ? cb.GetString() : null;
        var gen = root.TryGetProperty("generatedBy", out var gb) && gb.ValueKind == JsonValueKind.String ? gb.GetString() : null;
        if (gen is null && root.TryGetProperty("modelTopology", out var topo) && topo.ValueKind == JsonValueKind.Object
            && topo.TryGetProperty("keras_version", out var kv) && kv.ValueKind == JsonValueKind.String)
            gen = "keras " + kv.GetString();
        var description = "TF.js layers model" + (gen is null && by is null ? "" : $" ({string.Join(", ", new[] { gen, by }.Where(x => x is not null))})")
                          + ", Keras imagenet preprocessing";
        return new SourceSet(name, path, description, Preprocessing.KerasImagenet, tensors) { Unavailable = unavailable };
    }

    /// <summary>Byte offset and length of every tensor in the group's concatenated shards (offset −1 once a size is unknown).</summary>
    private static (List<Entry>, long? Total) Layout(JsonElement weights)
    {
        var list = new List<Entry>();
        long offset = 0;
        foreach (var w in weights.EnumerateArray())
        {
            var name = w.GetProperty("name").GetString() ?? throw new FormatException("a weight's name is null");
            var shape = w.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
            if (shape.Any(d => d < 0)) throw new FormatException($"{name} has a negative dimension in its shape");
            var dtype = w.GetProperty("dtype").GetString() ?? throw new FormatException($"{name}: dtype is null");
            Quantization? q = null;
            if (w.TryGetProperty("quantization", out var qe) && qe.ValueKind == JsonValueKind.Object)
                q = new Quantization(qe.GetProperty("dtype").GetString() ?? throw new FormatException($"{name}: quantization dtype is null"),
                    qe.TryGetProperty("scale", out var s) ? s.GetDouble() : null,
                    qe.TryGetProperty("min", out var m) ? m.GetDouble() : null);
            // Saturating product: a huge claimed shape then fails as "beyond the shards", never as an allocation.
            long count = shape.Aggregate(1L, (a, d) => d == 0 || a == 0 ? 0 : a > (long.MaxValue / 16) / d ? long.MaxValue / 16 : a * d);
            int size = ElementSize(q?.DType ?? dtype);
            long length = size < 0 || offset < 0 ? -1 : count * size;
            list.Add(new Entry(name, shape, dtype, q, length < 0 ? -1 : offset, length));
            offset = length < 0 || offset < 0 || offset > long.MaxValue / 2 - length ? -1 : offset + length;
        }
        return (list, offset < 0 ? null : offset);
    }

    private static int ElementSize(string dtype) => dtype switch
    {
        "float32" or "int32" => 4,
        "float16" or "uint16" or "int16" => 2,
        "uint8" or "int8" or "bool" => 1,
        "complex64" => 8,
        _ => -1,   // string tensors have per-element lengths
    };

    private static (float[], SourcePrecision) Decode(string modelJson, Entry e, byte[] bytes)
    {
        var stored = e.Q?.DType ?? e.DType;
        long count = e.Shape.Aggregate(1L, (a, d) => a * d);
        var v = new float[count];
        switch (stored)
        {
            case "float32":
                for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * i));
                return (v, SourcePrecision.Float32);
            case "float16":
                for (int i = 0; i < v.Length; i++) v[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(2 * i));
                return (v, SourcePrecision.Float16);
            case "uint8" or "uint16" when e.Q is { Scale: { } scale, Min: { } min }:
                // Affine dequantization, as tf.js io.decodeWeights does: value = min + scale·q.
                if (stored == "uint8")
                    for (int i = 0; i < v.Length; i++) v[i] = (float)(min + scale * bytes[i]);
                else
                    for (int i = 0; i < v.Length; i++) v[i] = (float)(min + scale * BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(2 * i)));
                return (v, stored == "uint8" ? SourcePrecision.Uint8 : SourcePrecision.Uint16);
            case "uint8" or "uint16":
                throw WeightsFormatException.For(modelJson, $"{e.Name} is {stored}-quantized but its quantization entry lacks scale or min");
            default:
                throw WeightsFormatException.For(modelJson, $"{e.Name} has dtype {stored}, expected float32, float16 or uint8/uint16 quantization");
        }
    }

    private static SourceTensor ToVgg(string modelJson, string vgg, Entry e, float[] values, SourcePrecision precision)
    {
        if (vgg.EndsWith(".bias"))
        {
            if (e.Shape.Length != 1) throw WeightsFormatException.For(modelJson, $"{e.Name} has shape {WeightTensor.FormatDims(e.Shape)}, expected a vector");
            return new SourceTensor(vgg, e.Shape, values, precision);
        }
        if (e.Shape.Length != 4) throw WeightsFormatException.For(modelJson, $"{e.Name} has shape {WeightTensor.FormatDims(e.Shape)}, expected HWIO [kh,kw,in,out]");
        int kh = e.Shape[0], kw = e.Shape[1], cin = e.Shape[2], cout = e.Shape[3];
        return new SourceTensor(vgg, [cout, cin, kh, kw], KernelLayout.HwioToOihw(values, kh, kw, cin, cout), precision);
    }
}
