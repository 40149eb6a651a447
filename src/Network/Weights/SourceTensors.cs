namespace IlgpuStyle.Network.Weights;

/// <summary>How precisely a source stored a tensor. Larger is better; the converter keeps the best copy of each tensor.</summary>
public enum SourcePrecision { Uint8 = 1, Uint16 = 2, BFloat16 = 3, Float16 = 4, Float32 = 5, Float64 = 6 }

/// <summary>A tensor read from a checkpoint, already renamed to VGG names ("conv1_1.weight") and laid out OIHW.</summary>
public sealed record SourceTensor(string Name, int[] Dims, float[] Data, SourcePrecision Precision);

/// <summary>
/// The VGG19 conv tensors found in one input (a TF.js folder, a .pth file).
/// <paramref name="Name"/> is short (the folder or file name) and prefixes each tensor's source label.
/// </summary>
public sealed record SourceSet(string Name, string Path, string Description, Preprocessing Preprocessing,
    IReadOnlyList<SourceTensor> Tensors)
{
    /// <summary>VGG tensors the input lists but cannot provide (e.g. their shard file is absent), with the reason.</summary>
    public IReadOnlyDictionary<string, string> Unavailable { get; init; } = new Dictionary<string, string>();

    /// <summary>Label stored per tensor in .ilgw files, e.g. "keras-tfjs-uint8 uint8-dequantized".</summary>
    public string Label(SourcePrecision p) => $"{Name} {Describe(p)}";

    public static string Describe(SourcePrecision p) => p switch
    {
        SourcePrecision.Uint8 => "uint8-dequantized",
        SourcePrecision.Uint16 => "uint16-dequantized",
        SourcePrecision.BFloat16 => "bfloat16",
        SourcePrecision.Float16 => "float16",
        SourcePrecision.Float32 => "float32",
        SourcePrecision.Float64 => "float64-rounded",
        _ => p.ToString(),
    };
}

/// <summary>Layout conversions shared by the converters.</summary>
internal static class KernelLayout
{
    /// <summary>
    /// HWIO (Keras/TF: [kh, kw, in, out], row-major) → OIHW ([out, in, kh, kw]):
    /// dst[((o·I + i)·KH + h)·KW + w] = src[((h·KW + w)·I + i)·O + o].
    /// </summary>
    public static float[] HwioToOihw(float[] src, int kh, int kw, int cin, int cout)
    {
        var dst = new float[src.Length];
        for (int h = 0; h < kh; h++)
        for (int w = 0; w < kw; w++)
        for (int i = 0; i < cin; i++)
        {
            int s = ((h * kw + w) * cin + i) * cout;
            for (int o = 0; o < cout; o++)
                dst[((o * cin + i) * kh + h) * kw + w] = src[s + o];
        }
        return dst;
    }
}
