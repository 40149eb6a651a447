using System.Buffers.Binary;
using System.Text.Json.Nodes;

namespace IlgpuStyle.Tests.Weights;

/// <summary>
/// Writes a TF.js layers model (model.json + shard files) like the TF.js converter: each group's tensors back to
/// back in manifest order, the concatenation cut into shards of <c>shardBytes</c> (the last one shorter).
/// </summary>
public sealed class TfjsTestModel
{
    private readonly List<(List<(JsonObject Entry, byte[] Bytes)> Weights, int ShardBytes)> _groups = [];

    public TfjsTestModel Group(int shardBytes = 1 << 22)
    {
        _groups.Add(([], shardBytes));
        return this;
    }

    public TfjsTestModel Float32(string name, int[] shape, float[] values)
    {
        var b = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), values[i]);
        return Add(name, shape, "float32", null, b);
    }

    /// <summary>Affine quantization as the TF.js converter does it: scale = (max − min)/(2^bits − 1), q = round((v − min)/scale).</summary>
    public TfjsTestModel Quantized(string name, int[] shape, float[] values, int bits, out double scale, out double min)
    {
        min = values.Min();
        scale = (values.Max() - min) / ((1 << bits) - 1);
        var b = new byte[values.Length * bits / 8];
        for (int i = 0; i < values.Length; i++)
        {
            int q = (int)Math.Round((values[i] - min) / scale);
            if (bits == 8) b[i] = (byte)q;
            else BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2 * i), (ushort)q);
        }
        var quant = new JsonObject { ["dtype"] = bits == 8 ? "uint8" : "uint16", ["original_dtype"] = "float32", ["scale"] = scale, ["min"] = min };
        return Add(name, shape, "float32", quant, b);
    }

    public TfjsTestModel Float16Quantized(string name, int[] shape, float[] values)
    {
        var b = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(b.AsSpan(2 * i), (Half)values[i]);
        return Add(name, shape, "float32", new JsonObject { ["dtype"] = "float16" }, b);
    }

    private TfjsTestModel Add(string name, int[] shape, string dtype, JsonObject? quant, byte[] bytes)
    {
        var entry = new JsonObject { ["name"] = name, ["shape"] = new JsonArray(shape.Select(d => (JsonNode)d).ToArray()), ["dtype"] = dtype };
        if (quant is not null) entry["quantization"] = quant;
        _groups[^1].Weights.Add((entry, bytes));
        return this;
    }

    /// <summary>Writes model.json and the shards; returns the shard file names per group.</summary>
    public List<string[]> Write(string dir)
    {
        Directory.CreateDirectory(dir);
        var manifest = new JsonArray();
        var files = new List<string[]>();
        for (int g = 0; g < _groups.Count; g++)
        {
            var all = _groups[g].Weights.SelectMany(w => w.Bytes).ToArray();
            int size = _groups[g].ShardBytes;
            int n = Math.Max(1, (all.Length + size - 1) / size);
            var names = Enumerable.Range(1, n).Select(i => $"group{g + 1}-shard{i}of{n}.bin").ToArray();
            for (int i = 0; i < n; i++)
                File.WriteAllBytes(Path.Combine(dir, names[i]), all[(i * size)..Math.Min(all.Length, (i + 1) * size)]);
            manifest.Add(new JsonObject
            {
                ["paths"] = new JsonArray(names.Select(s => (JsonNode)s).ToArray()),
                ["weights"] = new JsonArray(_groups[g].Weights.Select(w => (JsonNode)w.Entry.DeepClone()).ToArray()),
            });
            files.Add(names);
        }
        var model = new JsonObject
        {
            ["format"] = "layers-model",
            ["generatedBy"] = "keras v2.2.4-tf",
            ["convertedBy"] = "TensorFlow.js Converter v2.7.0",
            ["modelTopology"] = new JsonObject(),
            ["weightsManifest"] = manifest,
        };
        File.WriteAllText(Path.Combine(dir, "model.json"), model.ToJsonString());
        return files;
    }
}
