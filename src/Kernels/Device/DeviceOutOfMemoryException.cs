namespace IlgpuStyle.Kernels;

/// <summary>A device allocation failed for lack of memory (real, or past the configured cap).</summary>
public sealed class DeviceOutOfMemoryException : Exception
{
    public DeviceOutOfMemoryException(string device, long requested, long live, long? limit, Exception? inner = null)
        : base($"out of memory on {device}: needed {ByteSize.Format(requested)} more with {ByteSize.Format(live)} in use" +
               (limit is long l ? $" (limit {ByteSize.Format(l)})" : "") + ".", inner)
    {
        RequestedBytes = requested;
    }

    public long RequestedBytes { get; }

    internal static bool LooksLikeOutOfMemory(Exception e) =>
        e is OutOfMemoryException ||
        e.Message.Contains("OUT_OF_MEMORY", StringComparison.OrdinalIgnoreCase) ||
        e.Message.Contains("OutOfMemory", StringComparison.OrdinalIgnoreCase) ||
        e.Message.Contains("MEM_OBJECT_ALLOCATION_FAILURE", StringComparison.OrdinalIgnoreCase) ||
        e.Message.Contains("OUT_OF_RESOURCES", StringComparison.OrdinalIgnoreCase);
}
