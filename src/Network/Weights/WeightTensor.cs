using IlgpuStyle.Kernels;

namespace IlgpuStyle.Network.Weights;

/// <summary>How tensor values are stored in an .ilgw payload. The loader always returns float32.</summary>
public enum StorageDType { F32, F16 }

/// <summary>
/// One named float32 tensor of a weights set. Conv kernels are OIHW (Dims = [O, I, H, W], Shape = O×I×H×W in
/// the Shape4 fields N, C, H, W); biases are vectors (Dims = [n], Shape = 1×n×1×1).
/// <see cref="Source"/> says where the values came from, e.g. "keras-tfjs-uint8 uint8-dequantized".
/// </summary>
public sealed class WeightTensor
{
    public WeightTensor(string name, IReadOnlyList<int> dims, float[] data, string source)
    {
        Name = name;
        Dims = dims.ToArray();
        Data = data;
        Source = source;
        Shape = ToShape4(name, Dims);
        long count = 1;
        foreach (var d in Dims) count *= d;
        if (count != data.Length)
            throw new ArgumentException($"tensor {name}: shape {FormatDims(Dims)} has {count} elements but {data.Length} values were given");
    }

    public string Name { get; }
    public IReadOnlyList<int> Dims { get; }
    public Shape4 Shape { get; }
    public float[] Data { get; }
    public string Source { get; }

    public override string ToString() => $"{Name} {FormatDims(Dims)} ({Source})";

    public static string FormatDims(IReadOnlyList<int> dims) => "[" + string.Join(",", dims) + "]";

    /// <summary>Rank 4 → O×I×H×W; rank 1 → vector 1×n×1×1. Other ranks are not used by VGG weights.</summary>
    public static Shape4 ToShape4(string name, IReadOnlyList<int> dims)
    {
        if (dims.Any(d => d <= 0))
            throw new ArgumentException($"tensor {name}: shape {FormatDims(dims)} has a non-positive dimension");
        return dims.Count switch
        {
            1 => Shape4.Vector(dims[0]),
            4 => new Shape4(dims[0], dims[1], dims[2], dims[3]),
            _ => throw new ArgumentException($"tensor {name}: rank {dims.Count} shape {FormatDims(dims)} is not supported (expected a rank-4 OIHW kernel or a rank-1 bias)"),
        };
    }
}
