namespace IlgpuStyle.Network.Weights.Caffe;

/// <summary>
/// VGG19's conv tensors from a Caffe <c>.caffemodel</c> — the <c>VGG_ILSVRC_19_layers.caffemodel</c> that
/// jcjohnson/neural-style downloads (models/download_models.sh) — read natively: a serialized <c>caffe.NetParameter</c>
/// (caffe.proto) whose layers are <c>layer</c> (field 100, LayerParameter: name 1, type 2 "Convolution", blobs 7),
/// or the deprecated <c>layers</c> (field 2, V1LayerParameter: name 4, type 5 = CONVOLUTION (4), blobs 6; an older
/// V0LayerParameter inside it, field 1: name 1, type 2 "conv", blobs 50). A conv layer's blobs are its kernel, already
/// OIHW (num_output × channels × kernel_h × kernel_w), and its bias; each BlobProto gives its dimensions as
/// <c>shape</c> (7: BlobShape, dim 1) or the legacy num/channels/height/width (1–4), and its values as <c>data</c>
/// (5, packed floats) or <c>double_data</c> (8). Layers named conv1_1 … conv5_4 are VGG19's; every other layer
/// (fc6's 400 MB among them) is skipped unread. Preprocessing: Caffe's (BGR, 0..255, minus the ImageNet mean).
/// Tests: CaffeModelTests (a model written by Google.Protobuf's own encoder from the real weights).
/// </summary>
internal static class CaffeModelSource
{
    private enum LayerFormat { V2, V1, V0 }

    /// <summary>Blob data above this many values is refused before it is allocated (VGG19's largest conv kernel: 2.4 M).</summary>
    private const long MaxValues = 256L << 20;

    public static SourceSet Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var reader = new ProtobufReader(stream, path);
        var tensors = new List<SourceTensor>();
        var seen = new HashSet<string>();
        int layers = 0;
        long end = stream.Length;
        while (reader.Next(end, out int field, out int wire))
        {
            if (wire == 2 && field is 100 or 2)
            {
                layers++;
                ReadLayer(reader, reader.LengthEnd(end), field == 100 ? LayerFormat.V2 : LayerFormat.V1, tensors, seen);
            }
            else reader.Skip(wire, end);
        }
        if (layers == 0) throw WeightsFormatException.For(path, "holds no Caffe layers (is it a .caffemodel, a serialized caffe.NetParameter?)");
        return new SourceSet(Path.GetFileName(path), path, $"Caffe model ({layers} layers), Caffe preprocessing",
            Preprocessing.KerasImagenet, tensors);
    }

    private static void ReadLayer(ProtobufReader r, long end, LayerFormat format, List<SourceTensor> tensors, HashSet<string> seen)
    {
        string? name = null;
        string? type = null;
        var blobs = new List<(long Start, long End)>();
        while (r.Next(end, out int field, out int wire))
        {
            switch (format, field, wire)
            {
                case (LayerFormat.V2, 1, 2) or (LayerFormat.V1, 4, 2) or (LayerFormat.V0, 1, 2):
                    name = r.String(end);
                    break;
                case (LayerFormat.V2, 2, 2) or (LayerFormat.V0, 2, 2):
                    type = r.String(end);
                    break;
                case (LayerFormat.V1, 5, 0):
                    type = r.Varint(end) == 4 ? "Convolution" : "another V1 type";
                    break;
                case (LayerFormat.V2, 7, 2) or (LayerFormat.V1, 6, 2) or (LayerFormat.V0, 50, 2):
                {
                    long blobEnd = r.LengthEnd(end);
                    blobs.Add((r.Position, blobEnd));
                    r.Seek(blobEnd);
                    break;
                }
                case (LayerFormat.V1, 1, 2):
                    // A V0LayerParameter inside a V1 layer (Caffe before 2014): its fields replace the V1 ones.
                    ReadLayer(r, r.LengthEnd(end), LayerFormat.V0, tensors, seen);
                    break;
                default:
                    r.Skip(wire, end);
                    break;
            }
        }
        if (name is null || Vgg19Layout.ConvLayers.All(l => l.Name != name)) return;
        if (type is not ("Convolution" or "conv"))
            throw r.Wrong($"layer {name} is {(type is null ? "of no type" : $"a {type}")}, not a convolution");
        if (!seen.Add(name)) throw r.Wrong($"two layers are named {name}");
        if (blobs.Count != 2) throw r.Wrong($"layer {name} has {blobs.Count} blobs; a convolution with a bias has 2 (kernel, bias)");
        var (kernelDims, kernel, kernelPrecision) = ReadBlob(r, blobs[0].Start, blobs[0].End, name + " kernel");
        var (_, bias, biasPrecision) = ReadBlob(r, blobs[1].Start, blobs[1].End, name + " bias");
        if (kernelDims.Length != 4) throw r.Wrong($"layer {name}'s kernel has {kernelDims.Length} dimensions, not 4 (OIHW)");
        tensors.Add(new SourceTensor(name + ".weight", kernelDims, kernel, kernelPrecision));
        tensors.Add(new SourceTensor(name + ".bias", [bias.Length], bias, biasPrecision));   // [n] or legacy 1×1×1×n
        r.Seek(end);
    }

    /// <summary>One BlobProto: its dimensions (shape, else the legacy four) and values (float or double data).</summary>
    private static (int[] Dims, float[] Data, SourcePrecision Precision) ReadBlob(ProtobufReader r, long start, long end, string what)
    {
        r.Seek(start);
        var legacy = new int[4];
        bool anyLegacy = false;
        List<int>? shape = null;
        var chunks = new List<(long Start, long Count, bool Doubles)>();
        while (r.Next(end, out int field, out int wire))
        {
            switch (field, wire)
            {
                case (>= 1 and <= 4, 0):
                    legacy[field - 1] = r.Int32(end);
                    anyLegacy = true;
                    break;
                case (7, 2):
                    shape = ReadShape(r, r.LengthEnd(end));
                    break;
                case (5, 2) or (8, 2):
                {
                    long stop = r.LengthEnd(end);
                    int size = field == 5 ? 4 : 8;
                    if ((stop - r.Position) % size != 0) throw r.Bad($"{what}: packed data of {stop - r.Position} bytes is not whole {(size == 4 ? "floats" : "doubles")}");
                    chunks.Add((r.Position, (stop - r.Position) / size, field == 8));
                    r.Seek(stop);
                    break;
                }
                case (5, 5) or (8, 1):   // one value, not packed
                    chunks.Add((r.Position, 1, field == 8));
                    r.Skip(wire, end);
                    break;
                default:
                    r.Skip(wire, end);
                    break;
            }
        }
        if (chunks.Select(c => c.Doubles).Distinct().Count() > 1) throw r.Bad($"{what} has both float and double data");
        int[] dims = shape is not null ? [.. shape] : anyLegacy ? legacy : throw r.Bad($"{what} has no dimensions");
        long count = chunks.Sum(c => c.Count);
        long product = 1;
        foreach (int d in dims)
        {
            if (d <= 0) throw r.Bad($"{what} has dimensions {WeightTensor.FormatDims(dims)}");
            product *= d;
            if (product > MaxValues) throw r.Bad($"{what} claims more than {MaxValues} values");
        }
        if (count != product) throw r.Bad($"{what} has {count} values for dimensions {WeightTensor.FormatDims(dims)} ({product})");
        var data = new float[count];
        long at = 0;
        foreach (var (chunkStart, n, doubles) in chunks)
        {
            r.Seek(chunkStart);
            r.Floats(data.AsSpan((int)at, (int)n), doubles);
            at += n;
        }
        bool isDouble = chunks.Count > 0 && chunks[0].Doubles;
        return (dims, data, isDouble ? SourcePrecision.Float64 : SourcePrecision.Float32);
    }

    /// <summary>BlobShape: <c>repeated int64 dim = 1 [packed = true]</c> (unpacked varints accepted too).</summary>
    private static List<int> ReadShape(ProtobufReader r, long end)
    {
        var dims = new List<int>();
        void Add(int dim)
        {
            if (dims.Count == 8) throw r.Bad("a blob with more than 8 dimensions");
            dims.Add(dim);
        }
        while (r.Next(end, out int field, out int wire))
        {
            if (field == 1 && wire == 2)
            {
                long stop = r.LengthEnd(end);
                while (r.Position < stop) Add(r.Int32(stop));
            }
            else if (field == 1 && wire == 0) Add(r.Int32(end));
            else r.Skip(wire, end);
        }
        return dims;
    }
}
