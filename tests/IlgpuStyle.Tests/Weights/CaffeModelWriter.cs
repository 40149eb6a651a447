using Google.Protobuf;
using static Google.Protobuf.WireFormat;

namespace IlgpuStyle.Tests.Weights;

/// <summary>
/// Writes .caffemodel files — serialized caffe.NetParameter messages — with Google's own protobuf encoder
/// (Google.Protobuf's CodedOutputStream), field numbers from BVLC Caffe's caffe.proto, so the reader under test
/// (CaffeModelSource) is checked against an encoder it shares no code with. Layers in the current format
/// (NetParameter.layer = 100: LayerParameter), the deprecated one (layers = 2: V1LayerParameter, its type an enum)
/// or the oldest (a V0LayerParameter inside a V1 layer, field 1).
/// </summary>
public sealed class CaffeModelWriter
{
    public enum Format { V2, V1, V0 }

    /// <summary>How a blob stores its dimensions and values.</summary>
    public enum BlobStyle { ShapePacked, Legacy4D, UnpackedFloats, Doubles }

    private readonly MemoryStream net = new();
    private readonly CodedOutputStream output;

    public CaffeModelWriter(string name = "VGG_ILSVRC_19_layers")
    {
        output = new CodedOutputStream(net, leaveOpen: true);
        output.WriteTag(1, WireType.LengthDelimited);        // NetParameter.name
        output.WriteString(name);
        output.WriteTag(3, WireType.LengthDelimited);        // input: "data"
        output.WriteString("data");
        foreach (int d in new[] { 10, 3, 224, 224 })         // input_dim ×4
        {
            output.WriteTag(4, WireType.Varint);
            output.WriteInt64(d);
        }
    }

    /// <summary>A convolution with its kernel (OIHW) and bias.</summary>
    public CaffeModelWriter Conv(string name, int[] kernelDims, float[] kernel, float[] bias, Format format = Format.V2,
        BlobStyle style = BlobStyle.ShapePacked) =>
        Layer(name, format, "Convolution", [Blob(kernelDims, kernel, style), Blob([bias.Length], bias, style)]);

    /// <summary>A layer of another type (ReLU, Pooling, InnerProduct …) with optional blobs.</summary>
    public CaffeModelWriter Other(string name, string type, Format format = Format.V2, params float[][] blobs) =>
        Layer(name, format, type, [.. blobs.Select(b => Blob([b.Length], b, BlobStyle.ShapePacked))]);

    /// <summary>A layer whose fields are given as is (names, types and blobs in any combination).</summary>
    public CaffeModelWriter Layer(string? name, Format format, string? type, ByteString[] blobs)
    {
        var layer = Message(o =>
        {
            switch (format)
            {
                case Format.V2:
                    // Bottom and top first, as Caffe writes them; blobs (7) after the name (1) and type (2).
                    if (name is not null) { o.WriteTag(1, WireType.LengthDelimited); o.WriteString(name); }
                    if (type is not null) { o.WriteTag(2, WireType.LengthDelimited); o.WriteString(type); }
                    o.WriteTag(3, WireType.LengthDelimited); o.WriteString("bottom");
                    o.WriteTag(4, WireType.LengthDelimited); o.WriteString(name ?? "top");
                    foreach (var b in blobs) { o.WriteTag(7, WireType.LengthDelimited); o.WriteBytes(b); }
                    o.WriteTag(106, WireType.LengthDelimited);      // convolution_param { num_output: 64 kernel_size: 3 }
                    o.WriteBytes(Message(c => { c.WriteTag(1, WireType.Varint); c.WriteUInt32(64); c.WriteTag(4, WireType.Varint); c.WriteUInt32(3); }));
                    break;
                case Format.V1:
                    o.WriteTag(2, WireType.LengthDelimited); o.WriteString("bottom");
                    o.WriteTag(3, WireType.LengthDelimited); o.WriteString(name ?? "top");
                    if (name is not null) { o.WriteTag(4, WireType.LengthDelimited); o.WriteString(name); }
                    if (type is not null) { o.WriteTag(5, WireType.Varint); o.WriteEnum(V1Type(type)); }
                    foreach (var b in blobs) { o.WriteTag(6, WireType.LengthDelimited); o.WriteBytes(b); }
                    foreach (float lr in new[] { 1f, 2f }) { o.WriteTag(7, WireType.Fixed32); o.WriteFloat(lr); }   // blobs_lr, unpacked
                    break;
                case Format.V0:
                    o.WriteTag(1, WireType.LengthDelimited);        // V1LayerParameter.layer: V0LayerParameter
                    o.WriteBytes(Message(v0 =>
                    {
                        if (name is not null) { v0.WriteTag(1, WireType.LengthDelimited); v0.WriteString(name); }
                        if (type is not null) { v0.WriteTag(2, WireType.LengthDelimited); v0.WriteString(type == "Convolution" ? "conv" : type.ToLowerInvariant()); }
                        v0.WriteTag(3, WireType.Varint); v0.WriteUInt32(64);   // num_output
                        foreach (var b in blobs) { v0.WriteTag(50, WireType.LengthDelimited); v0.WriteBytes(b); }
                    }));
                    break;
            }
        });
        output.WriteTag(format == Format.V2 ? 100 : 2, WireType.LengthDelimited);
        output.WriteBytes(layer);
        return this;
    }

    /// <summary>V1LayerParameter.LayerType's numbers for the types used here.</summary>
    private static int V1Type(string type) => type switch
    {
        "Convolution" => 4, "ReLU" => 18, "Pooling" => 17, "InnerProduct" => 14, "Dropout" => 6, "Softmax" => 20,
        _ => throw new ArgumentException(type),
    };

    /// <summary>A BlobProto.</summary>
    public static ByteString Blob(int[] dims, float[] data, BlobStyle style) => Message(o =>
    {
        if (style == BlobStyle.Legacy4D)
        {
            var four = Enumerable.Repeat(1, 4 - dims.Length).Concat(dims).ToArray();   // num, channels, height, width
            for (int i = 0; i < 4; i++) { o.WriteTag(i + 1, WireType.Varint); o.WriteInt32(four[i]); }
        }
        else
        {
            o.WriteTag(7, WireType.LengthDelimited);                 // shape: BlobShape { dim: packed int64 }
            o.WriteBytes(Message(s =>
            {
                s.WriteTag(1, WireType.LengthDelimited);
                s.WriteLength(dims.Sum(d => CodedOutputStream.ComputeInt64Size(d)));
                foreach (int d in dims) s.WriteInt64(d);
            }));
        }
        switch (style)
        {
            case BlobStyle.UnpackedFloats:
                foreach (float v in data) { o.WriteTag(5, WireType.Fixed32); o.WriteFloat(v); }
                break;
            case BlobStyle.Doubles:
                o.WriteTag(8, WireType.LengthDelimited);
                o.WriteLength(8 * data.Length);
                foreach (float v in data) o.WriteDouble(v);
                break;
            default:
                o.WriteTag(5, WireType.LengthDelimited);
                o.WriteLength(4 * data.Length);
                foreach (float v in data) o.WriteFloat(v);
                break;
        }
    });

    public byte[] ToArray()
    {
        output.Flush();
        return net.ToArray();
    }

    public void Save(string path) => File.WriteAllBytes(path, ToArray());

    private static ByteString Message(Action<CodedOutputStream> write)
    {
        var ms = new MemoryStream();
        using (var o = new CodedOutputStream(ms, leaveOpen: true)) write(o);
        return ByteString.CopyFrom(ms.ToArray());
    }
}
