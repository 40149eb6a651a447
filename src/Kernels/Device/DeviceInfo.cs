using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

/// <summary>What we know of one device, usable or not. <see cref="Id"/> is what --device accepts.</summary>
public sealed record DeviceInfo(
    string Id,
    AcceleratorType Kind,
    string Name,
    string Type,
    long MemoryBytes,
    int ComputeUnits,
    int MaxGroupSize,
    bool Usable,
    string? WhyNot)
{
    public override string ToString() => $"{Id} ({Name}, {Type})";
}
