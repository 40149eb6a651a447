using System.Text.Json;
using System.Text.Json.Serialization;

namespace IlgpuStyle.Network.Weights;

/// <summary>
/// Constants and the JSON header model of the .ilgw weights format (byte layout: weights/README.md).
/// All integers little-endian: "ILGW", uint32 version, uint32 header length, UTF-8 JSON header,
/// zero padding to a multiple of 64, payload (tensors at 64-aligned offsets relative to the payload start).
/// </summary>
internal static class IlgwFormat
{
    public static ReadOnlySpan<byte> Magic => "ILGW"u8;
    public const uint Version = 1;
    /// <summary>Magic + version + header length.</summary>
    public const int PreambleLength = 12;
    public const int Alignment = 64;
    /// <summary>Refuse headers above this size: a corrupt length field must not make us allocate gigabytes.</summary>
    public const int MaxHeaderLength = 16 << 20;

    public static long Align(long x) => (x + Alignment - 1) / Alignment * Alignment;

    public static int ElementSize(StorageDType t) => t == StorageDType.F16 ? 2 : 4;

    public static string Name(StorageDType t) => t == StorageDType.F16 ? "f16" : "f32";

    public static bool TryParse(string? s, out StorageDType t)
    {
        switch (s)
        {
            case "f32": t = StorageDType.F32; return true;
            case "f16": t = StorageDType.F16; return true;
            default: t = default; return false;
        }
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

internal sealed class IlgwHeader
{
    public string? Format { get; set; }
    public string? Network { get; set; }
    public string? ConvertedFrom { get; set; }
    public IlgwPreprocessing? Preprocessing { get; set; }
    public long PayloadLength { get; set; }
    public string? Sha256 { get; set; }
    public List<IlgwTensorEntry>? Tensors { get; set; }
}

internal sealed class IlgwPreprocessing
{
    public string? ChannelOrder { get; set; }
    public float InputScale { get; set; }
    public float[]? Mean { get; set; }
    public float[]? Std { get; set; }
}

internal sealed class IlgwTensorEntry
{
    public string? Name { get; set; }
    public int[]? Shape { get; set; }
    public string? Dtype { get; set; }
    public long Offset { get; set; }
    public long Length { get; set; }
    public string? Source { get; set; }
    /// <summary>For f16 storage: max |float32 original − stored float16| of this tensor, measured when writing.</summary>
    public double? F16MaxAbsError { get; set; }
}

/// <summary>What the header of an .ilgw file says about one stored tensor.</summary>
public sealed record IlgwTensorInfo(string Name, IReadOnlyList<int> Dims, StorageDType DType, long Offset, long Length,
    string Source, double? F16MaxAbsError);
